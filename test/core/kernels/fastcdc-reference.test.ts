import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { referenceChunks } from './fastcdc-reference.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/fastcdc2020.json', import.meta.url), 'utf8'));
const image = new Uint8Array(readFileSync(new URL('../../fixtures/SekienAkashita.jpg', import.meta.url)));

describe('FastCDC-2020 test reference', () => {
  type Case = { min: number; avg: number; max: number; level: number; lengths: number[] };
  it.each(fixture.cases as Case[])('should give the published cut points for min $min avg $avg max $max level $level', ({ min, avg, max, level, lengths }) => {
    expect(referenceChunks(image, { min, avg, max, level })).toEqual(lengths);
  });

  it('should cut all-zero input into max-size chunks', () => {
    expect(referenceChunks(new Uint8Array(10240), { min: 64, avg: 256, max: 1024, level: 1 })).toEqual(Array(10).fill(1024));
  });
});
