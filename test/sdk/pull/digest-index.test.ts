// The version's chunks grouped by content (sdk/pull/digest-index.ts):
// chunks of one length and digest prefix are one class, found in O(1)
// whatever repeats; a manifest of a million equal chunks, or of one-byte
// digests, is one pass.
import { describe, expect, it } from 'vitest';
import { DigestIndex } from '../../../sdk/pull/digest-index.js';

const manifest = (lengths: number[], digests: number[][], digestBytes = digests[0]?.length ?? 8) => ({
  lengths: Uint32Array.from(lengths),
  digestBytes,
  digests: Uint8Array.from(digests.flat()),
});

describe('digest index', () => {
  it('should group chunks by length and digest prefix, members in file order', () => {
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    const b = [8, 7, 6, 5, 4, 3, 2, 1];
    const index = new DigestIndex(manifest([10, 10, 20, 10, 10], [a, b, a, a, b]));
    expect(index.classes).toBe(3); // (10, a), (10, b), (20, a): a length tells equal prefixes apart
    expect([...index.classOf]).toEqual([0, 1, 2, 0, 1]);
    expect([...index.members(0)]).toEqual([0, 3]);
    expect([...index.members(1)]).toEqual([1, 4]);
    expect([...index.members(2)]).toEqual([2]);
    expect([index.count[0], index.count[1], index.count[2]]).toEqual([2, 2, 1]);
    expect(index.lookup(Uint8Array.from([...a, 99, 99]), 10)).toBe(0); // only the prefix counts
    expect(index.lookup(Uint8Array.from(b), 20)).toBe(-1);
    expect(index.lookup(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 9]), 10)).toBe(-1);
  });

  it('should index a million equal chunks as one class, and a million one-byte digests as at most 256 per length', () => {
    const n = 1 << 20;
    const equal = new DigestIndex({ lengths: new Uint32Array(n).fill(4096), digestBytes: 8, digests: new Uint8Array(8 * n) });
    expect(equal.classes).toBe(1);
    expect(equal.count[0]).toBe(n);
    let walked = 0;
    for (const _ of equal.members(0)) walked++;
    expect(walked).toBe(n);

    const digests = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
    const short = new DigestIndex({ lengths: new Uint32Array(n).fill(1), digestBytes: 1, digests });
    expect(short.classes).toBe(256);
    expect(short.lookup(Uint8Array.of(7), 1)).toBe(7);
  });
});
