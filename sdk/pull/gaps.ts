// The gaps a pull's scan closes (runs of chunks the local copy does not
// have, between two it has): rebuilt from the copy's blocks when small
// (blocks.ts), else fetched, in requests of a quarter of requestBytes at
// least (fewer round trips for scattered small gaps).
import type { Span } from '../../core/protocol/byteranges.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';
import type { BlockRefiner } from './blocks.js';
import type { DigestIndex } from './digest-index.js';
import { claimFetches, FETCH, FETCHING, packSpans, spansOf } from './plan.js';

/** What the gaps need of their pull. */
export interface GapContext {
  readonly v: { m: ShortManifest };
  readonly from: Float64Array;
  readonly wanted: DigestIndex;
  readonly fetchedFirst: Int32Array;
  readonly offsets: Float64Array;
  readonly blocks: BlockRefiner | undefined;
  readonly requestBytes: number;
  /** Every span the closed gaps asked for (the layout reports them). */
  readonly closedSpans: Span[];
}

/**
 * Hands each gap in `taken` to the block refiner or marks it for fetching;
 * `closed` collects the spans to fetch. Answers the requests due once a
 * quarter of requestBytes has piled up (taking them out of `closed`).
 */
export function closeGaps(p: GapContext, taken: Iterable<[number, number]>, localOf: Float64Array, closed: Span[]): Span[][] | undefined {
  const { m } = p.v;
  const { from, offsets, blocks } = p;
  for (const [start, end] of taken) {
    // The copy's bytes between the gap's two neighbours (the first gap's start at 0).
    const oldOffset = start === 0 ? 0 : localOf[start - 1] + m.lengths[start - 1];
    const oldLength = localOf[end] - oldOffset;
    if (blocks?.takes(offsets[end] - offsets[start], oldLength) && from.subarray(start, end).every((f) => f === FETCH)) {
      blocks.add({ first: start, end, oldOffset, oldLength }, p.requestBytes / 4);
      p.closedSpans.push({ offset: offsets[start], length: offsets[end] - offsets[start] });
      for (let i = start; i < end; i++) from[i] = FETCHING;
      claimFetches(from, p.wanted, p.fetchedFirst, start, end);
      continue;
    }
    claimFetches(from, p.wanted, p.fetchedFirst, start, end);
    for (const span of spansOf(from, FETCH, start, end, m, offsets, p.requestBytes)) {
      closed.push(span);
      p.closedSpans.push(span);
    }
    for (let i = start; i < end; i++) if (from[i] === FETCH) from[i] = FETCHING;
  }
  return closed.reduce((n, s) => n + s.length, 0) >= p.requestBytes / 4 ? packSpans(closed.splice(0), p.requestBytes) : undefined;
}
