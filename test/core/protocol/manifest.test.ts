import { describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import { decodeManifest, decodeShortManifest, encodeManifest, encodeShortManifest, manifestPieces } from '../../../core/protocol/manifest.js';
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

describe('manifestPieces / decodeShortManifest', () => {
  it('should stream a manifest in pieces of at most 512 KiB that make the one-shot encoding, full and short', () => {
    const m = fakeManifest(100_000 * 64, { kind: 'fixed', block: 64 }); // 100,000 chunks
    for (const digestBytes of [0, 8, 32]) {
      const p = manifestPieces(m, digestBytes);
      const pieces = [...p.pieces()];
      expect(pieces.length).toBeGreaterThan(2);
      for (const piece of pieces) expect(piece.length).toBeLessThanOrEqual(512 << 10);
      expect(Buffer.concat(pieces).equals(Buffer.from(digestBytes ? encodeShortManifest(m, digestBytes) : encodeManifest(m)))).toBe(true);
      expect(pieces.reduce((n, x) => n + x.length, 0)).toBe(p.length);
    }
  });

  it('should check a short manifest against what the pull asked before decoding it', () => {
    const m = fakeManifest(64 * 1000, { kind: 'fixed', block: 64 });
    const bytes = encodeShortManifest(m, 8);
    expect(decodeShortManifest(bytes, { digestBytes: 8, maxChunks: 1000 }).lengths.length).toBe(1000);
    expect(() => decodeShortManifest(bytes, { digestBytes: 32 })).toThrow(/digestBytes 8, not the 32 asked for/);
    expect(() => decodeShortManifest(bytes, { maxChunks: 999 })).toThrow(/1000 chunks, over the 999/);
    const lying = bytes.slice();
    new DataView(lying.buffer).setUint32(32, 10, true); // 10 chunks of 64 bytes cannot hold 64,000
    expect(() => decodeShortManifest(lying)).toThrow(/10 chunks cannot hold 64000 bytes/);
    const odd = bytes.slice();
    new DataView(odd.buffer).setUint32(8, 32, true); // a block below the smallest
    expect(() => decodeShortManifest(odd)).toThrow(/outside the kernels' ranges/);
  });
});
