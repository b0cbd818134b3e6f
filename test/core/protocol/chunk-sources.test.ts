import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkSource, chunkSources, fillChunkDigests } from '../../../core/protocol/chunk-sources.js';
import { cdcChunker, concat, randomBytes, syncRun } from './helpers.js';

describe('chunk sources', () => {
  it('should rebuild the new manifest digests from stored digests and literal chunk hashes only', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 0, max: 3000 }), (seed, cut, len) => {
        const old = randomBytes(20000, seed);
        const insert = randomBytes(len, seed + 1);
        // Insert fresh bytes, and repeat them at the end so some chunks are dups.
        const next = concat(old.subarray(0, cut), insert, old.subarray(cut), insert);
        const run = syncRun(old, next, cdcChunker(), { partSize: 4096 });
        const literals = run.parts.flatMap((p) => p.ops);
        const sources = chunkSources(run.newChunks.lengths, run.oldChunks.lengths, run.message, literals);
        // The server knows literal digests only: blank every other chunk's digest.
        const staged = run.newChunks.hashes.slice();
        for (const [i, k] of sources.kind.entries()) if (k !== ChunkSource.literal) staged.fill(0, i * 32, i * 32 + 32);
        const digests = fillChunkDigests(sources, run.oldChunks.hashes, staged);
        expect(Buffer.from(digests).equals(run.newChunks.hashes)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('should reject a copy that is not on old chunk boundaries, or whose chunk lengths differ', () => {
    const plan = { size: 200, inPlace: false, dups: [], copies: [{ oldOffset: 50, newOffset: 0, length: 100 }] };
    const literal = [{ newOffset: 100, length: 100 }];
    expect(() => chunkSources(Uint32Array.of(100, 100), Uint32Array.of(100, 100), plan, literal)).toThrow(/copy\[0\] source at 50 is not on a chunk boundary/);
    const shifted = { ...plan, copies: [{ oldOffset: 0, newOffset: 0, length: 100 }] };
    expect(() => chunkSources(Uint32Array.of(100, 100), Uint32Array.of(60, 40, 100), shifted, literal)).toThrow(
      /new chunk 0 has 100 bytes, old chunk 0 has 60/,
    );
    expect(() =>
      chunkSources(Uint32Array.of(100, 100), Uint32Array.of(100), shifted, [
        { newOffset: 100, length: 50 },
        { newOffset: 150, length: 50 },
      ]),
    ).toThrow(/literal at 150 is not on a chunk boundary/);
    expect(() => chunkSources(Uint32Array.of(100, 50), Uint32Array.of(100), shifted, literal)).toThrow(/signatures add up to 150 bytes, the plan to 200/);
  });
});
