// The FastCDC-2020 kernel (assembly/fastcdc.ts via core/kernels/chunker.ts),
// on both builds, against references it does not share code with: the
// reference crate's published cut points and digests (fixture), the slow
// transcription of its cut() (fastcdc-reference.ts), zlib.crc32 and the
// BLAKE3 of blake3-jit.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { hash as blake3Jit } from 'blake3-jit';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import type { Chunk, ChunkOptions } from '../../../core/kernels/chunker.js';
import { type Kernels, init } from '../../../core/kernels/index.js';
import { type ReferenceParams, referenceChunks } from './fastcdc-reference.js';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/fastcdc2020.json', import.meta.url), 'utf8'));
const image = new Uint8Array(readFileSync(new URL('../../fixtures/SekienAkashita.jpg', import.meta.url)));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const lengths = (chunks: Chunk[]) => chunks.map((c) => c.length);

const builds: Record<string, Kernels> = {};
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
});

/** Inputs that reach max-size chunks and exact-max remainders: random, zeros, and zeros with random islands. */
const data = fc.tuple(fc.nat({ max: 200_000 }), fc.constantFrom('random', 'zeros', 'islands'), fc.integer()).map(([n, kind, seed]) => {
  if (kind === 'random') return new Uint8Array(randomBytes(n));
  const out = new Uint8Array(n);
  if (kind === 'islands') for (let i = Math.abs(seed) % 5000; i < n; i += 20_000) out.set(randomBytes(Math.min(3000, n - i)), i);
  return out;
});

/** Parameters within the reference's limits, biased to small sizes so small inputs hold many chunks; min may exceed avg or max. */
const params = fc
  .record({
    avg: fc.integer({ min: 256, max: 40_000 }),
    min: fc.integer({ min: 64, max: 40_000 }),
    extra: fc.integer({ min: 0, max: 100_000 }),
    level: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ avg, min, extra, level }): ReferenceParams => ({ min, avg, max: Math.max(1024, avg + extra), level }));

describe.each(['simd', 'scalar'])('FastCDC-2020 (%s build)', (name) => {
  const k = () => builds[name];

  it.each(
    fixture.cases.map((c: { min: number; avg: number; max: number; level: number; lengths: number[] }) => [c.min, c.avg, c.max, c.level, c.lengths]) as [
      number,
      number,
      number,
      number,
      number[],
    ][],
  )('should give the published cut points for min %i avg %i max %i level %i', (min, avg, max, level, want) => {
    const chunks = k().chunk(image, { min, avg, max, level });
    expect(lengths(chunks)).toEqual(want);
    let end = 0;
    expect([...k().cutPoints(image, { min, avg, max, level })]).toEqual(want.map((n) => (end += n)));
  });

  it('should give the published BLAKE3 digests of the avg 16 KiB case', () => {
    const c = fixture.cases[0];
    const chunks = k().chunk(image, { min: c.min, avg: c.avg, max: c.max, level: c.level, blake3: true });
    expect(chunks.map((x) => hex(x.blake3!))).toEqual(c.blake3);
  });

  it('should cut all-zero input into max-size chunks', () => {
    expect(lengths(k().chunk(new Uint8Array(10240), { min: 64, avg: 256, max: 1024 }))).toEqual(Array(10).fill(1024));
    const big = k().chunk(new Uint8Array(3 << 20));
    expect(lengths(big)).toEqual(Array(48).fill(65536));
    expect(big.every((c) => c.crc32 === zlib.crc32(new Uint8Array(65536)))).toBe(true);
  });

  it('should match the reference on random inputs and parameters, with each chunk CRC equal to zlib.crc32', () => {
    fc.assert(
      fc.property(data, params, (bytes, p) => {
        const want = referenceChunks(bytes, p);
        const chunks = k().chunk(bytes, p);
        expect(lengths(chunks)).toEqual(want);
        let end = 0;
        expect([...k().cutPoints(bytes, p)]).toEqual(want.map((n) => (end += n)));
        for (const c of chunks) expect(c.crc32).toBe(zlib.crc32(bytes.subarray(c.offset, c.offset + c.length)));
      }),
      { numRuns: 40 },
    );
  });

  it('should match the reference at the edges: shorter than min, exactly min and max, max + 1, odd sizes', () => {
    const bytes = randomBytes(200_000);
    for (const p of [
      { min: 64, avg: 256, max: 1024, level: 3 },
      { min: 65, avg: 257, max: 1025, level: 0 },
      { min: 4095, avg: 6000, max: 9999, level: 2 },
      { min: 8191, avg: 8193, max: 8195, level: 1 }, // every phase a few bytes long
      { min: 20000, avg: 3000, max: 16385, level: 1 }, // min > max: nothing hashed, max-size chunks
    ]) {
      for (const n of [0, 1, p.min - 1, p.min, p.min + 1, p.avg, p.max - 1, p.max, p.max + 1, 2 * p.max, 2 * p.max + 1, 200_000]) {
        const slice = bytes.subarray(0, Math.max(0, n));
        expect(lengths(k().chunk(slice, p)), `${JSON.stringify(p)} n=${n}`).toEqual(referenceChunks(slice, p));
      }
    }
  });

  it('should give each chunk the BLAKE3 digest of its bytes', () => {
    const bytes = randomBytes(700_000); // more than one window
    const chunks = k().chunk(bytes, { min: 1024, avg: 4096, max: 200_000, blake3: true });
    expect(chunks.length).toBeGreaterThan(50);
    for (const c of chunks) expect(hex(c.blake3!)).toBe(hex(blake3Jit(bytes.subarray(c.offset, c.offset + c.length))));
  });

  it('should give the same lengths, CRCs and BLAKE3s as flat records (chunkRecords), copied and in place', () => {
    fc.assert(
      fc.property(data, params, (bytes, p) => {
        const want = k().chunk(bytes, { ...p, blake3: true });
        const region = k().allocInput(bytes.length);
        region.set(bytes);
        for (const input of [bytes, region]) {
          const r = k().chunkRecords(input, p);
          expect(r.lengths.length).toBe(want.length);
          expect(r.hashes.length).toBe(want.length * 32);
          want.forEach((c, i) => {
            expect(r.lengths[i]).toBe(c.length);
            expect(r.crcs[i]).toBe(c.crc32);
            expect(Buffer.from(r.hashes.subarray(i * 32, i * 32 + 32)).equals(c.blake3!)).toBe(true);
          });
        }
        k().allocInput(0);
      }),
      { numRuns: 40 },
    );
  });

  it('should give the same chunks when streamed in pieces of any size, with bounded pending bytes', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 1_500_000 }),
        fc.array(fc.oneof(fc.constant(1), fc.nat({ max: 5000 }), fc.nat({ max: 900_000 })), { minLength: 1, maxLength: 30 }),
        fc.constantFrom<ChunkOptions>({}, { min: 64, avg: 256, max: 1024, level: 3 }, { min: 5000, avg: 30000, max: 300_000, level: 0 }),
        (n, sizes, options) => {
          const bytes = randomBytes(n);
          const want = k().chunk(bytes, options);
          const chunker = k().createChunker(options);
          const got: Chunk[] = [];
          const max = options.max ?? 65536;
          for (let at = 0, i = 0; at < n; i++) {
            // After 3000 pieces the rest goes in one (1-byte pieces would make 1.5M calls).
            const piece = bytes.subarray(at, i < 3000 ? at + sizes[i % sizes.length] : n);
            at += piece.length;
            got.push(...chunker.push(piece));
            const emitted = got.length ? got[got.length - 1].offset + got[got.length - 1].length : 0;
            expect(at - emitted).toBeLessThanOrEqual(max + 512 * 1024);
          }
          got.push(...chunker.finish());
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 12 },
    );
  });

  it('should chunk a large input in bounded wasm memory', async () => {
    const fresh = await init({ simd: name === 'simd' });
    const bytes = randomBytes(64 << 20);
    const chunks = fresh.chunk(bytes);
    expect(chunks.reduce((s, c) => s + c.length, 0)).toBe(bytes.length);
    expect(chunks[chunks.length - 1].crc32).toBe(zlib.crc32(bytes.subarray(chunks[chunks.length - 1].offset)));
    expect(fresh.instance.exports.memory.buffer.byteLength).toBeLessThan(4 << 20);
  });

  it('should throw INVALID_ARGUMENT naming the limit for parameters outside the reference limits', () => {
    const bad: [ChunkOptions, RegExp][] = [
      [{ min: 63 }, /min 63 is below the minimum 64/],
      [{ min: (1 << 20) + 1 }, /min .* above the maximum 1048576/],
      [{ avg: 255 }, /avg 255 is below the minimum 256/],
      [{ avg: (4 << 20) + 1, max: 16 << 20 }, /avg .* above the maximum 4194304/],
      [{ max: 1023 }, /max 1023 is below the minimum 1024/],
      [{ max: (16 << 20) + 1 }, /max .* above the maximum 16777216/],
      [{ level: 4 }, /level 4 is above the maximum 3/],
      [{ avg: 2048.5 }, /avg must be an integer/],
      [{ avg: 8192, max: 4096 }, /avg 8192 is above max 4096/],
    ];
    for (const [options, message] of bad) {
      for (const call of [() => k().chunk(image, options), () => k().cutPoints(image, options), () => k().createChunker(options)]) {
        expect(call).toThrow(DeltaflareError);
        expect(call).toThrow(message);
      }
    }
  });
});
