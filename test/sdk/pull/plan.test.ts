// The pure part of a pull's plan: which gaps a scan in file order closes
// (their fetches start before the scan ends) and how spans become requests.
import { describe, expect, it } from 'vitest';
import { MAX_RANGE_HEADER_BYTES, MAX_RANGE_READS, MAX_RANGES, RANGE_MERGE_GAP } from '../../../core/base/limits.js';
import { rangeHeader } from '../../../core/protocol/byteranges.js';
import { ClosedGaps, FETCH, fetchBatches, LANDED, packSpans, spansOf } from '../../../sdk/pull/plan.js';
import type { ShortManifest } from '../../../core/protocol/manifest.js';

/** A manifest of `n` chunks of `length` bytes (digests unused here) and its offsets. */
function chunks(n: number, length = 100): { m: ShortManifest; offsets: Float64Array } {
  const m: ShortManifest = {
    chunking: { kind: 'fixed', block: length },
    size: n * length,
    lengths: new Uint32Array(n).fill(length),
    digestBytes: 8,
    digests: new Uint8Array(8 * n),
  };
  return { m, offsets: Float64Array.from({ length: n + 1 }, (_, i) => i * length) };
}

describe('closed gaps', () => {
  it('should close a gap once the chunk after it is found after the chunk before it, and not before', () => {
    const localOf = new Float64Array(10).fill(-1);
    const gaps = new ClosedGaps(localOf);
    localOf[0] = 0;
    localOf[1] = 100;
    expect([...gaps.take()]).toEqual([]); // chunks 2.. not decided: nothing found after them yet
    localOf[4] = 300; // an overwrite of chunks 2 and 3 (found 1 at 100, 4 at 300)
    expect([...gaps.take()]).toEqual([[2, 4]]);
    expect([...gaps.take()]).toEqual([]); // each gap once
    localOf[5] = 400;
    localOf[7] = 450; // an insert: 6 is new, 7 follows 5's bytes
    expect([...gaps.take()]).toEqual([[6, 7]]);
  });

  it('should leave to the scan end a gap between chunks found out of order (moved data), and close a leading gap', () => {
    const localOf = new Float64Array(6).fill(-1);
    const gaps = new ClosedGaps(localOf);
    localOf[2] = 5000; // chunks 0 and 1 are before anything found: a leading gap
    expect([...gaps.take()]).toEqual([[0, 2]]);
    localOf[4] = 1000; // found before chunk 2's bytes: 3 may be further on in the copy
    expect([...gaps.take()]).toEqual([]);
    localOf[5] = 6000;
    expect([...gaps.take()]).toEqual([]); // 4 and 5 were found: nothing between them
  });
});

describe('fetch batches', () => {
  it('should split runs at requestBytes and pack spans into requests of at most requestBytes, MAX_RANGES ranges and an 8,000-byte Range header', () => {
    const { m, offsets } = chunks(3000);
    const from = new Float64Array(3000).fill(LANDED);
    for (let i = 0; i < 10; i++) from[i] = FETCH; // one run of 1000 bytes
    for (let i = 100; i < 3000; i += 2) from[i] = FETCH; // 1450 lone chunks
    expect([...spansOf(from, FETCH, 0, 10, m, offsets, 300)]).toEqual([
      { offset: 0, length: 300 },
      { offset: 300, length: 300 },
      { offset: 600, length: 300 },
      { offset: 900, length: 100 },
    ]);
    const batches = fetchBatches(from, m, offsets, 1 << 20);
    // Ranges of up to 12 bytes ("299900-299999,"): the header bound (8,000 bytes) cuts before MAX_RANGES.
    for (const b of batches) expect(rangeHeader(b).length).toBeLessThanOrEqual(MAX_RANGE_HEADER_BYTES);
    expect(batches.map((b) => b.length)).toEqual([635, 571, 245]);
    expect(batches.flat().reduce((n, s) => n + s.length, 0)).toBe(1000 + 1450 * 100);
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(MAX_RANGES);
    expect(
      packSpans(
        [
          { offset: 0, length: 700 },
          { offset: 1000, length: 700 },
        ],
        1000,
      ),
    ).toEqual([[{ offset: 0, length: 700 }], [{ offset: 1000, length: 700 }]]);
  });
});

describe('request packing', () => {
  it('should end a request at MAX_RANGE_READS groups of ranges RANGE_MERGE_GAP apart (the endpoint refuses more)', () => {
    const far = Array.from({ length: 3 * MAX_RANGE_READS }, (_, i) => ({ offset: i * 2 * RANGE_MERGE_GAP, length: 10 }));
    expect(packSpans(far, 1 << 20).map((b) => b.length)).toEqual([MAX_RANGE_READS, MAX_RANGE_READS, MAX_RANGE_READS]);
    // Neighbours share a read: 64 groups of 4 ranges fit one request.
    const near = far.slice(0, MAX_RANGE_READS).flatMap((s) => [0, 1, 2, 3].map((j) => ({ offset: s.offset + 100 * j, length: 10 })));
    expect(packSpans(near, 1 << 20).map((b) => b.length)).toEqual([4 * MAX_RANGE_READS]);
  });
});
