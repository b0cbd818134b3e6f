// Keys a case-insensitive or Windows file system would alias: refused by the
// fs store where it runs on one (forced here: Linux file systems are not),
// never on a case-sensitive one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFs } from '../../../../worker/store/fs/facade.js';
import { probeCaseInsensitive } from '../../../../worker/store/fs/names.js';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { StoreError } from '../../../../worker/store/store.js';
import { put } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'df-names-'));
  dirs.push(d);
  return d;
};
const data = new Uint8Array([1, 2, 3]);

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(StoreError);
  expect((e as StoreError).code).toBe('INVALID_KEY');
  expect((e as StoreError).message).toMatch(pattern);
}

describe('fs store keys on case-insensitive file systems', () => {
  it('should find this machine\'s temp folder case-sensitive, and keep "A" and "a" apart there', async () => {
    const dir = fresh();
    expect(await probeCaseInsensitive(nodeFs, dir)).toBe(false);
    const store = await FsStore.open(dir);
    await put(store, 'A.bin', data, null);
    await put(store, 'a.bin', data, null);
    await put(store, 'CON', data, null);
  });

  it("should refuse keys differing only in case from a stored one, and Windows' aliases, when the file system may alias them", async () => {
    const store = await FsStore.open(fresh(), { caseInsensitive: true });
    await put(store, 'Photos/Summer.JPG', data, null);
    await refused(store.head('photos/summer.jpg'), /differs only in case from "Photos"/);
    await refused(put(store, 'Photos/summer.jpg', data, null), /differs only in case from "Photos\/Summer.JPG"/);
    await refused(put(store, 'PHOTOS/new.jpg', data, null), /differs only in case from "Photos"/);
    for (const [key, why] of [
      ['CON', /device name/],
      ['a/nul.txt', /device name/],
      ['a:b', /reserved on Windows/],
      ['a.', /ending in "."/],
      ['a /b', /ending in " "/],
      ['PROGRA~1/x', /short \(8\.3\) name/],
    ] as const) {
      await refused(put(store, key, data, null), why);
    }
    expect((await store.head('Photos/Summer.JPG'))?.size).toBe(3);
    await put(store, 'Photos/Autumn.JPG', data, null); // other names are fine
    // One name in NFC and in NFD (macOS's file systems take both as one file).
    await put(store, 'caf\u00e9.txt', data, null);
    await refused(put(store, 'cafe\u0301.txt', data, null), /differs only in case or Unicode normalization \(NFC\/NFD\) from "café.txt"/);
    await refused(put(store, 'CAFE\u0301.txt', data, null), /Unicode normalization/);
  });
});
