// The pure part of a pull's plan: which chunk of the version comes from
// where (the local copy, an interrupted pull's output, or the endpoint), as
// an array `from` over the version's chunks: -2 fetch, -1 already in place,
// >= 0 an offset in the local copy; and how that becomes copies and
// multi-range requests. sdk/pull.ts runs it.
import { MAX_RANGES } from '../base/limits.js';
import type { Span } from './byteranges.js';
import { orderInPlace } from './in-place.js';
import type { ShortManifest } from './manifest.js';
import type { CopyOp } from './wire.js';

/** Copies are read and checked in groups of at most this many bytes. */
export const COPY_GROUP = 1 << 20;

/**
 * The version's chunks by digest prefix: `all` the chunks with a digest, `at`
 * the one at an offset. Keyed by the prefix's first 6 bytes as a number (a
 * string key cost ~100 B a chunk); chunks sharing those are told apart by
 * the whole prefix.
 */
export function digestIndex(m: ShortManifest): { all(d: Uint8Array): number[]; at(d: Uint8Array, offset: number, offsets: Float64Array): number } {
  const n = m.digestBytes;
  const keyOf = (d: Uint8Array, at: number) => {
    let key = 0;
    for (let j = 0; j < Math.min(6, n); j++) key = key * 256 + d[at + j];
    return key;
  };
  const first = new Map<number, number>();
  const more = new Map<number, number[]>(); // the rare keys shared by several chunks
  for (let i = 0; i < m.lengths.length; i++) {
    const key = keyOf(m.digests, n * i);
    const had = first.get(key);
    if (had === undefined) first.set(key, i);
    else more.set(key, [...(more.get(key) ?? [had]), i]);
  }
  const samePrefix = (d: Uint8Array, i: number) => {
    for (let j = 0; j < n; j++) if (d[j] !== m.digests[n * i + j]) return false;
    return true;
  };
  const all = (d: Uint8Array): number[] => {
    const key = keyOf(d, 0);
    const list = more.get(key) ?? (first.has(key) ? [first.get(key)!] : []);
    return list.filter((i) => samePrefix(d, i));
  };
  return { all, at: (d, offset, offsets) => all(d).find((i) => offsets[i] === offset) ?? -1 };
}

/**
 * The copies of a pull in place: chunks already where the version wants them
 * stay (marked landed), moved runs become copies ordered so none reads bytes
 * an earlier one overwrote, and the copies that would close a cycle are
 * fetched instead (marked -2).
 */
export function planInPlace(from: Float64Array, m: ShortManifest, offsets: Float64Array): CopyOp[] {
  const moves: CopyOp[] = [];
  for (let i = 0; i < from.length; i++) {
    if (from[i] < 0) continue;
    if (from[i] === offsets[i]) {
      from[i] = -1;
      continue;
    }
    const last = moves[moves.length - 1];
    if (last && last.newOffset + last.length === offsets[i] && last.oldOffset + last.length === from[i]) last.length += m.lengths[i];
    else moves.push({ oldOffset: from[i], newOffset: offsets[i], length: m.lengths[i] });
  }
  const order = orderInPlace(moves);
  for (const c of order.converted) for (let i = chunkAt(offsets, c.newOffset); offsets[i] < c.newOffset + c.length; i++) from[i] = -2;
  return order.copies;
}

/** Runs of consecutive chunks found locally or already landed, as [offset, length]. */
export function foundRuns(from: Float64Array, offsets: Float64Array): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < from.length; i++) {
    if (from[i] === -2) continue;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === offsets[i]) last[1] += offsets[i + 1] - offsets[i];
    else runs.push([offsets[i], offsets[i + 1] - offsets[i]]);
  }
  return runs;
}

/** Index of the chunk starting at `offset`. */
export function chunkAt(offsets: Float64Array, offset: number): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Runs of chunks copied from consecutive local bytes, at most COPY_GROUP each. */
export function* copyGroups(
  from: Float64Array,
  m: ShortManifest,
  offsets: Float64Array,
): Generator<{ first: number; end: number; src: number; length: number }> {
  for (let i = 0; i < from.length; ) {
    if (from[i] < 0) {
      i++;
      continue;
    }
    const first = i;
    let length = m.lengths[i++];
    while (i < from.length && from[i] === from[first] + length && length + m.lengths[i] <= COPY_GROUP && offsets[i] === offsets[first] + length)
      length += m.lengths[i++];
    yield { first, end: i, src: from[first], length };
  }
}

/** Runs of chunks to fetch as spans, packed into requests of about `requestBytes` and at most 1024 ranges. */
export function fetchBatches(from: Float64Array, m: ShortManifest, offsets: Float64Array, requestBytes: number): Span[][] {
  const batches: Span[][] = [];
  let batch: Span[] = [];
  let bytes = 0;
  for (let i = 0; i < from.length; ) {
    if (from[i] !== -2) {
      i++;
      continue;
    }
    const start = i;
    let length = 0;
    while (i < from.length && from[i] === -2 && (length === 0 || length + m.lengths[i] <= requestBytes)) length += m.lengths[i++];
    if (batch.length > 0 && (bytes + length > requestBytes || batch.length >= MAX_RANGES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ offset: offsets[start], length });
    bytes += length;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
