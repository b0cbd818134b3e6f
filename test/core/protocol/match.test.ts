import { describe, expect, it } from 'vitest';
import { deflateRaw, inflateRaw } from '../../../core/protocol/compress.js';
import { DeltaflareError } from '../../../core/base/errors.js';
import { WeakIndex, confirmMatches, matchBatch } from '../../../core/protocol/match.js';
import { decodeMatches, encodeMatches, encodeSignatures } from '../../../core/protocol/wire.js';
import { concat, describe as chunksOf, fixedChunker, randomBytes } from './helpers.js';

/** A synthetic manifest: chunk i has crc crcs[i], length lengths[i] and a digest filled with byte digests[i]. */
function manifest(crcs: number[], lengths: number[], digests: number[]) {
  const hashes = new Uint8Array(crcs.length * 32);
  for (const [i, d] of digests.entries()) hashes.fill(d, i * 32, i * 32 + 32);
  return { crcs: Uint32Array.from(crcs), lengths: Uint32Array.from(lengths), hashes };
}

describe('match', () => {
  it('should answer an unchanged file of 4 KiB blocks with one run: 16 bytes plus 8 per chunk', () => {
    const file = randomBytes(4096 * 1000, 1);
    const chunks = chunksOf(file, fixedChunker(4096));
    const m = matchBatch(new WeakIndex(chunks), { firstIndex: 0, crcs: chunks.crcs, lengths: chunks.lengths }, 8);
    expect(m.runs).toEqual([{ entry: 0, length: 1000, oldOffset: 0 }]);
    expect(encodeMatches(m).length).toBe(24 + 16 + 8 * 1000);
    expect(encodeSignatures({ firstIndex: 0, crcs: chunks.crcs, lengths: chunks.lengths }).length).toBe(24 + 4 * 1000);
  });

  it('should follow a run through identical blocks (all zeros) instead of restarting at the first', () => {
    const old = new Uint8Array(4096 * 300);
    const chunks = chunksOf(old, fixedChunker(4096));
    const m = matchBatch(new WeakIndex(chunks), { firstIndex: 0, crcs: chunks.crcs, lengths: chunks.lengths }, 8);
    expect(m.runs).toEqual([{ entry: 0, length: 300, oldOffset: 0 }]);
  });

  it('should offer one candidate per distinct digest behind a (crc, length), at most 4', () => {
    // Six old chunks share crc 7 and length 10; digests 1, 2, 2, 3, 4, 5: five distinct, four offered.
    const index = new WeakIndex(manifest([7, 7, 7, 7, 7, 7, 8], [10, 10, 10, 10, 10, 10, 10], [1, 2, 2, 3, 4, 5, 6]));
    expect(index.candidates(7, 10)).toEqual([0, 1, 3, 4]);
    expect(index.candidates(7, 11)).toEqual([]);
    expect(index.candidates(9, 10)).toEqual([]);
  });

  it('should keep only candidates whose strong hash agrees (a CRC collision is not a copy)', () => {
    // Old: two chunks with crc 7, length 10, digests 1 and 2. New chunk: crc 7, length 10, digest 2.
    const index = new WeakIndex(manifest([7, 7], [10, 10], [1, 2]));
    const m = decodeMatches(encodeMatches(matchBatch(index, { firstIndex: 0, crcs: Uint32Array.of(7), lengths: Uint32Array.of(10) }, 8)));
    expect(m.runs.map((r) => r.oldOffset)).toEqual([0, 10]);
    const mine = manifest([7], [10], [2]);
    const oldOffsets = Float64Array.of(-1);
    expect(confirmMatches(m, mine, oldOffsets, 20)).toBe(1);
    expect(oldOffsets[0]).toBe(10);
    const other = manifest([7], [10], [9]);
    const none = Float64Array.of(-1);
    expect(confirmMatches(m, other, none, 20)).toBe(0);
    expect(none[0]).toBe(-1);
  });

  it('should continue a run into a repeated old chunk rather than restart at its first copy', () => {
    // Old chunks X Y X Z (X twice, same digest); new Y X Z: one run from Y through the second X.
    const old = manifest([1, 2, 1, 3], [10, 10, 10, 10], [1, 2, 1, 3]);
    const mine = manifest([2, 1, 3], [10, 10, 10], [2, 1, 3]);
    const m = matchBatch(new WeakIndex(old), { firstIndex: 0, crcs: mine.crcs, lengths: mine.lengths }, 8);
    expect(m.runs).toEqual([{ entry: 0, length: 3, oldOffset: 10 }]);
  });

  it('should prefer the confirmed candidate that continues the previous copy, so copies merge', () => {
    // Entry 0 at 30 (length 10); entry 1 has two confirmed candidates, 10 and 40: 40 follows 30 + 10.
    const mine = manifest([5, 6], [10, 10], [5, 6]);
    const hashes = new Uint8Array(24);
    hashes.fill(5, 0, 8);
    hashes.fill(6, 8, 24);
    const m = {
      firstIndex: 0,
      count: 2,
      strongBytes: 8,
      hashes,
      runs: [
        { entry: 0, length: 1, oldOffset: 30 },
        { entry: 1, length: 1, oldOffset: 10 },
        { entry: 1, length: 1, oldOffset: 40 },
      ],
    };
    const oldOffsets = Float64Array.of(-1, -1);
    expect(confirmMatches(decodeMatches(encodeMatches(m)), mine, oldOffsets, 100)).toBe(2);
    expect([...oldOffsets]).toEqual([30, 40]);
  });

  it('should reject a candidate that reads past the end of the basis', () => {
    const m = { firstIndex: 0, count: 1, strongBytes: 8, runs: [{ entry: 0, length: 1, oldOffset: 15 }], hashes: new Uint8Array(8).fill(2) };
    expect(() => confirmMatches(m, manifest([7], [10], [2]), Float64Array.of(-1), 20)).toThrow(/beyond the basis size 20/);
  });

  it('should confirm a shifted file across batches with candidates in many runs', () => {
    const old = randomBytes(1000 * 64, 5);
    const next = concat(randomBytes(500, 6), old);
    const oc = chunksOf(old, fixedChunker(1000));
    const nc = chunksOf(next, fixedChunker(1000));
    const index = new WeakIndex(oc);
    const oldOffsets = new Float64Array(nc.lengths.length).fill(-1);
    for (let first = 0; first < nc.lengths.length; first += 10) {
      const end = Math.min(first + 10, nc.lengths.length);
      const m = matchBatch(index, { firstIndex: first, crcs: nc.crcs.subarray(first, end), lengths: nc.lengths.subarray(first, end) }, 16);
      confirmMatches(decodeMatches(encodeMatches(m)), nc, oldOffsets, old.length);
    }
    // A 500-byte shift misaligns fixed blocks: nothing matches. (CDC is what survives shifts.)
    expect([...oldOffsets].every((x) => x === -1)).toBe(true);
  });
});

describe('compress', () => {
  it('should inflate what it deflates', async () => {
    const data = concat(randomBytes(10_000, 1), new Uint8Array(50_000));
    const z = await deflateRaw(data);
    expect(z.length).toBeLessThan(data.length);
    expect(await inflateRaw(z, data.length)).toEqual(data);
  });

  it('should stop inflating a bomb at the declared size', async () => {
    const z = await deflateRaw(new Uint8Array(10_000_000));
    expect(z.length).toBeLessThan(20_000);
    await expect(inflateRaw(z, 1000)).rejects.toThrow(/inflates past 1000 bytes/);
    await expect(inflateRaw(z, 20_000_000)).rejects.toThrow(/inflates to 10000000 bytes, literalBytes is 20000000/);
  });

  it('should reject bytes that are not deflate-raw', async () => {
    await expect(inflateRaw(Uint8Array.of(0xff, 0xff, 0xff, 0xff), 10)).rejects.toBeInstanceOf(DeltaflareError);
  });
});
