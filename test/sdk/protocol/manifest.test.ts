import { describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../sdk/base/errors.js';
import { decodeManifest, encodeManifest } from '../../../sdk/protocol/manifest.js';
import { fakeManifest } from '../../worker/store/helpers.js';

describe('encodeManifest / decodeManifest', () => {
  it('should round-trip cdc, fixed and empty manifests', () => {
    for (const m of [fakeManifest(100_000, { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 }), fakeManifest(4096 * 3 + 1), fakeManifest(0)]) {
      const bytes = encodeManifest(m);
      expect(bytes.length).toBe(36 + 40 * m.lengths.length); // 36-byte header, 4 + 4 + 32 per chunk
      expect(decodeManifest(bytes)).toEqual(m);
    }
  });

  it('should refuse corrupt bytes naming what is wrong', () => {
    const good = encodeManifest(fakeManifest(10_000));
    const bad = (mutate: (b: Uint8Array, v: DataView) => void, pattern: RegExp) => {
      const b = good.slice();
      mutate(b, new DataView(b.buffer));
      expect(() => decodeManifest(b)).toThrow(DeltaflareError);
      expect(() => decodeManifest(b)).toThrow(pattern);
    };
    bad((b) => (b[0] = 0), /magic/);
    bad((_, v) => v.setUint32(4, 7, true), /kind 7/);
    bad((_, v) => v.setBigUint64(24, 10_001n, true), /sum to 10000, not the size 10001/);
    bad((_, v) => v.setUint32(32, 4, true), /want 196 for 4 chunks/);
    bad((_, v) => v.setUint32(36, 0, true), /chunk 0 has length 0/);
    expect(() => decodeManifest(good.subarray(0, 35))).toThrow(/shorter than the 36-byte header/);
    expect(() => decodeManifest(good.subarray(0, good.length - 1))).toThrow(/want/);
  });

  it('should refuse to encode a manifest whose arrays disagree', () => {
    const m = fakeManifest(10_000);
    expect(() => encodeManifest({ ...m, hashes: m.hashes.subarray(32) })).toThrow(/hash bytes/);
  });
});
