// The pure part of a pull's plan: which chunk of the version comes from
// where (the local copy, an interrupted pull's output, or the endpoint), as
// an array `from` over the version's chunks: FETCH, LANDED (already in
// place), FETCHING, DUP, ZERO, or an offset in the local copy; and how that
// becomes copies and multi-range requests. sdk/pull/pull.ts runs it.
import { MAX_RANGE_HEADER_BYTES, MAX_RANGE_READS, MAX_RANGES } from '../../core/base/limits.js';
import { type Span, sameRead } from '../../core/protocol/byteranges.js';
import { orderInPlace } from '../../core/protocol/in-place.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';
import type { DigestIndex } from './digest-index.js';
import type { CopyOp } from '../../core/protocol/wire.js';

/**
 * Values of a pull's `from` besides local offsets (>= 0): fetch it, it has
 * landed, its fetch has started, it is written when the first fetched chunk
 * of its class lands (DigestIndex), it is all zeros (written from memory,
 * or left as a hole of a new output).
 */
export const FETCH = -2;
export const LANDED = -1;
export const FETCHING = -3;
export const DUP = -4;
export const ZERO = -5;

/** Copies are read and checked in groups of at most this many bytes. */
export const COPY_GROUP = 1 << 20;

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
    if (from[i] === FETCH || from[i] === FETCHING) continue;
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

/** The version's chunk that starts at `offset` and is of class `c` (DigestIndex), or -1. */
export function chunkOfClassAt(index: DigestIndex, offsets: Float64Array, offset: number, c: number): number {
  const i = chunkAt(offsets, offset);
  return c >= 0 && i < index.classOf.length && offsets[i] === offset && index.classOf[i] === c ? i : -1;
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

/** Runs of chunks to fetch as spans, packed into requests of about `requestBytes` and at most MAX_RANGES ranges. */
export function fetchBatches(from: Float64Array, m: ShortManifest, offsets: Float64Array, requestBytes: number): Span[][] {
  return packSpans(spansOf(from, FETCH, 0, from.length, m, offsets, requestBytes), requestBytes);
}

/** Chunks [start, end) whose `from` is `value`, as spans of consecutive chunks of at most `requestBytes` (or one chunk). */
export function* spansOf(
  from: Float64Array,
  value: number,
  start: number,
  end: number,
  m: ShortManifest,
  offsets: Float64Array,
  requestBytes: number,
): Generator<Span> {
  for (let i = start; i < end; ) {
    if (from[i] !== value) {
      i++;
      continue;
    }
    const first = i;
    let length = 0;
    while (i < end && from[i] === value && (length === 0 || length + m.lengths[i] <= requestBytes)) length += m.lengths[i++];
    yield { offset: offsets[first], length };
  }
}

/**
 * Spans (in file order) packed into requests of about `requestBytes`, at
 * most MAX_RANGES ranges, a Range header of at most MAX_RANGE_HEADER_BYTES
 * and MAX_RANGE_READS groups of ranges less than RANGE_MERGE_GAP apart (the
 * endpoint's store reads) each.
 */
export function packSpans(spans: Iterable<Span>, requestBytes: number): Span[][] {
  const batches: Span[][] = [];
  let batch: Span[] = [];
  let bytes = 0;
  let header = 'bytes='.length;
  let reads = 0;
  for (const span of spans) {
    const range = rangeBytes(span);
    const last = batch[batch.length - 1];
    const newRead = !last || !sameRead(last.offset + last.length, span.offset);
    const full = bytes + span.length > requestBytes || batch.length >= MAX_RANGES || header + range > MAX_RANGE_HEADER_BYTES;
    if (batch.length > 0 && (full || (newRead && reads >= MAX_RANGE_READS))) {
      batches.push(batch);
      batch = [];
      bytes = 0;
      header = 'bytes='.length;
      reads = 0;
    }
    if (batch.length === 0 || newRead) reads++;
    batch.push(span);
    bytes += span.length;
    header += range;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * The gaps of the version a scan in file order has closed, so their fetches
 * can start before the scan ends: a run of chunks not found, between two
 * chunks found in the same order in the local copy, once the scan has
 * passed the second. What the version holds there was not in the copy
 * where it would be, so it is taken to be new: an insert or an overwrite.
 * If the copy holds it further on (moved data), those bytes are fetched
 * for nothing (the pull stays correct). Runs with no found chunk after
 * them, or between chunks found out of order, wait for the scan's end.
 */
export class ClosedGaps {
  private next = 0;
  /** `localOf[i]`: where the scan first found chunk i in the local copy, or -1. */
  constructor(private readonly localOf: Float64Array) {}

  /** [start, end) chunk runs closed since the last call. */
  *take(): Generator<[number, number]> {
    const { localOf } = this;
    const n = localOf.length;
    while (this.next < n) {
      const i = this.next;
      if (localOf[i] >= 0) {
        this.next++;
        continue;
      }
      let e = i;
      while (e < n && !(localOf[e] >= 0)) e++;
      if (e === n) return;
      this.next = e;
      if (i === 0 || localOf[i - 1] < localOf[e]) yield [i, e];
    }
  }
}

/**
 * Before chunks [start, end) are fetched: the first chunk to fetch of each
 * class (`fetchedFirst[class]`, -1 until then) is fetched, every later one
 * becomes DUP and is written from the first's bytes when they land.
 */
export function claimFetches(from: Float64Array, index: DigestIndex, fetchedFirst: Int32Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if (from[i] !== FETCH && from[i] !== FETCHING) continue;
    const c = index.classOf[i];
    if (fetchedFirst[c] < 0) fetchedFirst[c] = i;
    else if (fetchedFirst[c] !== i && from[i] === FETCH) from[i] = DUP;
  }
}

/** Bytes `span` adds to a Range header: "first-last" and its comma. */
export function rangeBytes(span: Span): number {
  return String(span.offset).length + String(span.offset + span.length - 1).length + 2;
}
