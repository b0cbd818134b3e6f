// A pull's gaps rebuilt from blocks. A gap is a run of the version's chunks
// not found in the local copy, between two chunks that were (in the same
// order): the copy's bytes between those two are what the gap replaced. The
// endpoint's digests of the gap's blocks (GET /v1/blocks,
// core/protocol/block-digests.ts) are compared with the copy's bytes there,
// laid from the gap's start (an overwrite, or what precedes an insert or a
// delete) and from its end (what follows them); only the blocks the copy
// lacks are fetched. A 4 KiB write into a chunk of 8-16 KiB then costs about
// 5 KiB and the digests, not the chunk. Every chunk so rebuilt is checked
// against the manifest before it is written; one that fails (the copy
// changed, or a digest prefix collided) is handed back to be fetched whole.
import { DeltaflareError } from '../../core/base/errors.js';
import { MAX_RANGE_HEADER_BYTES, MAX_RANGE_READS } from '../../core/base/limits.js';
import { Lanes } from '../../core/base/lanes.js';
import type { Span } from '../../core/protocol/byteranges.js';
import { hasPrefix } from './digest-index.js';
import { packSpans, rangeBytes } from './plan.js';
import { blockCount, blockQuery } from '../../core/protocol/block-digests.js';
import { checkChunk, checkVersion, type FetchContext, getRanges } from './fetch.js';
import type { SyncSource } from '../source.js';

/** Chunks [first, end) of the version, and the local copy's bytes that were between the same two neighbours. */
export interface Gap {
  first: number;
  end: number;
  oldOffset: number;
  oldLength: number;
}

/** Digest prefix bytes per block: a false match costs a fetch of the chunk, never a wrong byte (chunks are checked). */
const DIGEST_BYTES = 8;
/** Gaps are sent in requests of at most this many: the endpoint's store reads per request (MAX_RANGE_READS). */
const GAPS_PER_REQUEST = MAX_RANGE_READS;
/** Gaps larger than this are fetched whole: an insert of new data, where at most the chunks at its two ends hold old blocks. */
export const MAX_GAP_BYTES = 256 << 10;

export interface BlockContext extends FetchContext {
  local: SyncSource;
  /** Bytes per block (a power of two, 256..65536). */
  block: number;
  /** Chunks that failed their check, to be fetched whole. */
  fetchWhole(spans: Span[]): void;
}

export class BlockRefiner {
  /** Bytes of rebuilt chunks taken from the local copy. */
  local = 0;
  /** Bytes of rebuilt chunks fetched as blocks. */
  fetched = 0;
  /** Requests sent (block digests and ranged GETs). */
  requests = 0;
  private queued: Gap[] = [];
  private queuedBytes = 0;
  private queryBytes = 0;
  private readonly lanes: Lanes;
  /** Set once the endpoint refused a digests request: every gap is fetched whole from then on. */
  private off = false;

  constructor(private readonly c: BlockContext) {
    this.lanes = new Lanes(c.concurrency);
  }

  /** Whether a gap of `bytes` is worth its digests (8 bytes a block): at least 4 blocks, at most MAX_GAP_BYTES, the copy's bytes there not empty. */
  takes(bytes: number, oldLength: number): boolean {
    return !this.off && bytes >= 4 * this.c.block && bytes <= MAX_GAP_BYTES && oldLength > 0 && oldLength <= 2 * MAX_GAP_BYTES;
  }

  /** Queues a gap; a request starts once `flushBytes` of gaps (or GAPS_PER_REQUEST, or a query of MAX_RANGE_HEADER_BYTES) are queued. */
  add(gap: Gap, flushBytes: number): void {
    const span = { offset: this.c.offsets[gap.first], length: this.c.offsets[gap.end] - this.c.offsets[gap.first] };
    if (this.queryBytes + rangeBytes(span) > MAX_RANGE_HEADER_BYTES) this.flush();
    this.queued.push(gap);
    this.queuedBytes += span.length;
    this.queryBytes += rangeBytes(span);
    if (this.queuedBytes >= flushBytes || this.queued.length >= GAPS_PER_REQUEST) this.flush();
  }

  /** Starts a request for what is queued. */
  flush(): void {
    if (this.queued.length === 0) return;
    const gaps = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    this.queryBytes = 0;
    this.lanes.add(() => this.refine(gaps));
  }

  /** Throws the first failure, if one happened. */
  check(): void {
    this.lanes.check();
  }

  /** Waits for every request started; throws the first failure. */
  done(): Promise<void> {
    this.flush();
    return this.lanes.done();
  }

  /** Drops what is queued and waits for what runs (after a failure elsewhere, before the output closes). */
  stop(): Promise<void> {
    this.queued = [];
    return this.lanes.stop();
  }

  private async refine(gaps: Gap[]): Promise<void> {
    const { http, k, key, version, m, offsets, whole, local, block } = this.c;
    const spans = gaps.map((g) => ({ offset: offsets[g.first], length: offsets[g.end] - offsets[g.first] }));
    let got: Awaited<ReturnType<typeof http.get>>;
    try {
      const want = spans.reduce((n, s) => n + blockCount(s.length, block) * DIGEST_BYTES, 0);
      got = await http.get(`/v1/blocks/${encodeURIComponent(key)}?${blockQuery({ version, block, digestBytes: DIGEST_BYTES, spans })}`, {}, want);
      this.requests++;
      checkVersion(got.headers, this.c);
      if (got.bytes.length !== want) throw new DeltaflareError('MALFORMED', `block digests of ${key}: ${got.bytes.length} bytes, not ${want}`);
    } catch (e) {
      // An endpoint without the route (an older deploy: 404, or 401 where it took it for a write) or refusing
      // the query: the chunks are fetched whole, as they would be without blocks. A new version is the pull's end.
      if (!(e instanceof DeltaflareError) || e.code === 'VERSION_CONFLICT' || e.code === 'ABORTED') throw e;
      this.off = true;
      this.c.fetchWhole(spans);
      return;
    }

    // Each gap's new bytes, filled from the copy's matching blocks, then from the fetched ones.
    const buffers: Uint8Array[] = [];
    const fromCopy: Array<Array<[number, number]>> = []; // per gap, [start, end) within it taken from the copy
    const missing: Array<{ gap: number; span: Span }> = [];
    let d = 0;
    for (const [g, gap] of gaps.entries()) {
      const span = spans[g];
      const buffer = new Uint8Array(span.length);
      const old = await local.read(gap.oldOffset, gap.oldLength);
      const shift = old.length - span.length; // laid from the end: the gap's byte o is the copy's o + shift
      const taken: Array<[number, number]> = [];
      for (let o = 0; o < span.length; o += block, d += DIGEST_BYTES) {
        const length = Math.min(block, span.length - o);
        const matches = (at: number) => at >= 0 && at + length <= old.length && this.same(old.subarray(at, at + length), got.bytes, d);
        const hit = matches(o) ? o : shift !== 0 && matches(o + shift) ? o + shift : undefined;
        if (hit !== undefined) {
          buffer.set(old.subarray(hit, hit + length), o);
          taken.push([o, o + length]);
          continue;
        }
        const last = missing[missing.length - 1];
        if (last && last.gap === g && last.span.offset + last.span.length === span.offset + o) last.span.length += length;
        else missing.push({ gap: g, span: { offset: span.offset + o, length } });
      }
      buffers.push(buffer);
      fromCopy.push(taken);
    }
    const gapOf = new Map(missing.map((x) => [x.span, x.gap]));
    for (const batch of packSpans(
      missing.map((x) => x.span),
      Number.MAX_SAFE_INTEGER,
    )) {
      const bytesOf = await getRanges(this.c, batch);
      this.requests++;
      for (const span of batch) {
        const g = gapOf.get(span)!;
        buffers[g].set(bytesOf(span), span.offset - spans[g].offset);
      }
    }

    const failed: Span[] = [];
    const landed: Span[] = [];
    for (const [g, gap] of gaps.entries()) {
      const base = spans[g].offset;
      let run: Span | undefined; // chunks that passed, written together
      const write = async () => {
        if (!run) return;
        await this.c.writeAt(run.offset, buffers[g].subarray(run.offset - base, run.offset - base + run.length));
        landed.push(run);
        run = undefined;
      };
      for (let i = gap.first; i < gap.end; i++) {
        const start = offsets[i] - base;
        if (!checkChunk(k, buffers[g].subarray(start, start + m.lengths[i]), m, i, whole)) {
          await write();
          failed.push({ offset: offsets[i], length: m.lengths[i] });
          continue;
        }
        const copied = overlap(fromCopy[g], start, start + m.lengths[i]);
        this.local += copied;
        this.fetched += m.lengths[i] - copied;
        if (run) run.length += m.lengths[i];
        else run = { offset: offsets[i], length: m.lengths[i] };
      }
      await write();
    }
    if (landed.length) this.c.onLanded(landed);
    if (failed.length) this.c.fetchWhole(failed);
  }

  /** Whether the digest of `bytes` starts with the DIGEST_BYTES at `at` of `digests`. */
  private same(bytes: Uint8Array, digests: Uint8Array, at: number): boolean {
    return hasPrefix(this.c.k.blake3(bytes), digests, at, DIGEST_BYTES);
  }
}

/** Bytes of [start, end) inside the sorted, disjoint `ranges`. */
function overlap(ranges: Array<[number, number]>, start: number, end: number): number {
  let n = 0;
  for (const [a, b] of ranges) if (b > start && a < end) n += Math.min(b, end) - Math.max(a, start);
  return n;
}
