// Pulling a version, runtime-neutral (the runtime gives the sources and the
// output; node/pull.ts: files). A Pull runs the steps, one method each: the
// version's manifest (version.ts); the chunks already there (all-zero ones,
// an interrupted pull's output); the scan of the local copy, by BLAKE3
// digest, fetching the gaps it closes (gaps.ts); the copies (copies.ts,
// in-place.ts); the rest fetched in multi-range GETs; every chunk checked
// before it is written, the root checked, and the output published (renamed
// over the copy) only when every chunk landed.
import { DeltaflareError } from '../../core/base/errors.js';
import { checkOptions } from '../../core/base/options.js';
import { init, type Kernels } from '../../core/kernels/index.js';
import { Http } from '../http.js';
import type { WorkerPool } from '../pool/pool.js';
import type { Placed, ThreadApi } from '../pool/thread-api.js';
import type { Span } from '../../core/protocol/byteranges.js';
import {
  ClosedGaps,
  chunkAt,
  chunkOfClassAt,
  claimFetches,
  DUP,
  FETCH,
  FETCHING,
  fetchBatches,
  foundRuns,
  LANDED,
  packSpans,
  planInPlace,
  ZERO,
} from './plan.js';
import { DigestIndex, zeroChunkClasses } from './digest-index.js';
import { BLOCK_SIZE_RANGE, isBlockSize } from '../../core/protocol/block-digests.js';
import { BlockRefiner } from './blocks.js';
import { RangeFetcher } from './fetch.js';
import { copyFromLocal, writeZeros } from './copies.js';
import { copyInPlace } from './in-place.js';
import { closeGaps } from './gaps.js';
import { type Placement, startPlacement } from './placement.js';
import { fetchVersion, type Version } from './version.js';
import { PULL_OPTIONS, type PullOptions, type PullOutput, type PullProgress, type PullResult } from './options.js';
import { chunkOffsets } from '../../core/protocol/manifest.js';
import { toHex } from '../../core/protocol/hex.js';
import { signatures } from '../signatures/pass.js';
import type { SyncSource } from '../source.js';

const DEFAULT_REQUEST_BYTES = 2 << 20;
const DEFAULT_BLOCK_SIZE = 1024;

/**
 * Updates `output` from `local` (the current copy, or null) to the key's
 * current version on the endpoint.
 * @example await pull(await fileSource('disk.img'), output, { endpoint, key: 'disk.img', pool })
 */
export async function pull(local: SyncSource | null, open: (size: number) => Promise<PullOutput>, options: PullOptions): Promise<PullResult> {
  checkOptions('pull', options, PULL_OPTIONS);
  const block = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (block !== 0 && !isBlockSize(block)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `blockSize ${block} is not 0 or a power of two in ${BLOCK_SIZE_RANGE.join('..')}`);
  }
  const digestBytes = options.digestBytes ?? 8;
  try {
    return await new Pull(local, open, options, digestBytes).run();
  } catch (e) {
    // A prefix collision (or a server lying about prefixes) shows as a root mismatch: once more with whole digests.
    if (!(e instanceof RootMismatch) || digestBytes === 32) throw e;
    return new Pull(local, open, options, 32).run();
  }
}

/** The whole file's digests do not give the version's root. */
class RootMismatch extends DeltaflareError {}

/** One pull: the version, where each of its chunks comes from, and what has landed. */
class Pull {
  private readonly started = performance.now();
  private received = 0;
  private readonly http: Http;
  readonly requestBytes: number;
  private k!: Kernels;
  v!: Version;
  private output!: PullOutput;
  /** Every chunk's whole digest, filled as chunks are found or fetched: their BLAKE3 must be the root. */
  private whole!: Uint8Array;
  offsets!: Float64Array;
  /** Where each chunk comes from (plan.ts): FETCH, LANDED, FETCHING, ZERO, DUP or an offset in the local copy. */
  from!: Float64Array;
  wanted!: DigestIndex;
  private zeroClasses: ReturnType<typeof zeroChunkClasses> = [];
  /** Chunks that repeat one being fetched are written from its bytes when they land (claimFetches). */
  fetchedFirst!: Int32Array;
  private dupsWritten!: Uint8Array;
  private found = 0;
  private zeroBytes = 0;
  private dupBytes = 0;
  private placed = 0;
  private copied = 0;
  private resumedBytes = 0;
  /** Reported once, when the scan ends; spans that land before it are reported with it. */
  private layout: NonNullable<PullProgress['layout']> | undefined;
  private readonly early: Span[] = [];
  /** Every span the scan's closed gaps asked for. */
  readonly closedSpans: Span[] = [];
  private fetches!: RangeFetcher;
  blocks: BlockRefiner | undefined;

  constructor(
    private readonly local: SyncSource | null,
    private readonly open: (size: number) => Promise<PullOutput>,
    private readonly options: PullOptions,
    private readonly digestBytes: number,
  ) {
    this.http = new Http(options.endpoint, { ...options, onBytes: (_, r) => (this.received += r) });
    this.requestBytes = options.requestBytes ?? DEFAULT_REQUEST_BYTES;
  }

  async run(): Promise<PullResult> {
    this.k = await init();
    this.report({ phase: 'manifest', foundBytes: 0, fetchedBytes: 0 });
    this.v = await fetchVersion(this.http, this.options, this.digestBytes);
    this.manifestSize = this.v.m.size;
    const { m } = this.v;
    this.whole = new Uint8Array(32 * m.lengths.length);
    this.offsets = chunkOffsets(m);
    this.from = new Float64Array(m.lengths.length).fill(FETCH);
    this.wanted = new DigestIndex(m);
    this.fetchedFirst = new Int32Array(this.wanted.classes).fill(-1);
    this.dupsWritten = new Uint8Array(this.wanted.classes);
    this.output = await this.open(m.size);
    this.markZeros();
    this.startFetchers();
    try {
      const pool = await this.options.pool;
      this.report({ phase: 'scanning', foundBytes: 0, fetchedBytes: 0 });
      await this.findLanded(pool);
      await this.scan(pool);
      await this.copyAndFetch();
      return await this.finish();
    } catch (e) {
      await this.blocks?.stop(); // before the output closes: no write lands after
      await this.fetches.stop();
      await this.output.close().catch(() => undefined);
      throw e;
    }
  }

  /** The version's size once known, for progress reports. */
  private manifestSize = 0;

  private report(p: Omit<PullProgress, 'size' | 'rate' | 'eta'>): void {
    if (!this.options.onProgress) return;
    const size = this.manifestSize;
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? (p.foundBytes + p.fetchedBytes) / seconds : 0;
    this.options.onProgress({ ...p, size, rate, eta: rate > 0 ? Math.max(0, size - p.foundBytes - p.fetchedBytes) / rate : 0 });
  }

  private foundNow(): number {
    return this.found + (this.blocks?.local ?? 0);
  }

  private fetchedNow(): number {
    return this.fetches.fetched + (this.blocks?.fetched ?? 0) + this.dupBytes;
  }

  /** All-zero chunks: holes of a new output, or written from memory; never read, fetched or placed. */
  private markZeros(): void {
    const { m } = this.v;
    this.zeroClasses = zeroChunkClasses(this.k, m, this.wanted);
    for (const { c, digest } of this.zeroClasses) {
      for (const i of this.wanted.members(c)) {
        this.from[i] = this.output.zeroed ? LANDED : ZERO;
        this.whole.set(digest, 32 * i);
        this.found += m.lengths[i];
        this.zeroBytes += m.lengths[i];
      }
    }
  }

  /** The range fetcher, and the block refiner for gaps between found chunks (not in place: there the copy is the output). */
  private startFetchers(): void {
    const { m, version } = this.v;
    const context = {
      http: this.http,
      k: this.k,
      key: this.options.key,
      version,
      m,
      offsets: this.offsets,
      whole: this.whole,
      writeAt: (offset: number, bytes: Uint8Array) => this.writeAt(offset, bytes),
      concurrency: this.options.concurrency ?? 4,
      onLanded: (spans: Span[]) => this.landed(spans),
    };
    this.fetches = new RangeFetcher(context);
    const blockSize = this.options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.blocks =
      this.local && blockSize > 0 && !this.output.inPlace
        ? new BlockRefiner({ ...context, local: this.local, block: blockSize, fetchWhole: (spans) => this.fetches.add(packSpans(spans, this.requestBytes)) })
        : undefined;
  }

  /** Spans that landed: reported, or kept for the report of the layout. */
  private landed(spans: Span[]): void {
    if (!this.layout) this.early.push(...spans);
    else this.report({ phase: 'fetching', foundBytes: this.foundNow(), fetchedBytes: this.fetchedNow(), landed: spans.map((sp) => [sp.offset, sp.length]) });
  }

  /** Writes fetched bytes, then each repeat of their chunks the version wants elsewhere (once per class). */
  private async writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    const { m } = this.v;
    const { wanted, from, offsets } = this;
    await this.output.writeAt(offset, bytes);
    const dups: Span[] = [];
    for (let i = chunkAt(offsets, offset), at = 0; at < bytes.length; at += m.lengths[i], i++) {
      const c = wanted.classOf[i];
      if (wanted.count[c] === 1 || this.dupsWritten[c]) continue;
      this.dupsWritten[c] = 1;
      const chunk = bytes.subarray(at, at + m.lengths[i]);
      for (const j of wanted.members(c)) {
        if (from[j] !== DUP) continue;
        await this.output.writeAt(offsets[j], chunk);
        this.whole.copyWithin(32 * j, 32 * i, 32 * i + 32);
        from[j] = LANDED;
        this.dupBytes += m.lengths[j];
        dups.push({ offset: offsets[j], length: m.lengths[j] });
      }
    }
    if (dups.length) this.landed(dups);
  }

  /** An interrupted pull's output: a chunk whose digest is the version's chunk at the same offset has landed. */
  private async findLanded(pool: WorkerPool<ThreadApi>): Promise<void> {
    const { m } = this.v;
    const resumed = this.output.resumed;
    if (!resumed) return;
    const before = this.found;
    for await (const b of signatures(resumed, { chunking: m.chunking, pool, signal: this.options.signal })) {
      let at = b.offset;
      for (let j = 0; j < b.lengths.length; j++) {
        const d = b.hashes.subarray(32 * j, 32 * j + 32);
        const i = chunkOfClassAt(this.wanted, this.offsets, at, this.wanted.lookup(d, b.lengths[j]));
        if (i >= 0 && (this.from[i] === FETCH || this.from[i] === ZERO)) {
          if (this.from[i] === FETCH) this.found += m.lengths[i];
          this.from[i] = LANDED;
          this.whole.set(d, 32 * i);
        }
        at += b.lengths[j];
      }
    }
    this.resumedBytes = this.found - before;
  }

  /** Chunks the pool's threads wrote into the output as they found them. */
  private onPlaced({ indices, digests }: Placed): void {
    const { m } = this.v;
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j];
      // Landed already (resumed, or placed by another thread), or being fetched (the same bytes): counted once.
      if (this.from[i] === LANDED || this.from[i] === FETCHING) continue;
      if (this.from[i] === FETCH) this.found += m.lengths[i];
      this.placed += m.lengths[i];
      this.from[i] = LANDED;
      this.whole.set(digests.subarray(32 * j, 32 * j + 32), 32 * i);
    }
  }

  /** The scan of the local copy, with a placement where the output is a file of its own; nothing to find: not read. */
  private async scan(pool: WorkerPool<ThreadApi>): Promise<void> {
    const { local, output } = this;
    if (local === null || !this.from.includes(FETCH)) return;
    const skip = Int32Array.from(this.zeroClasses, (z) => z.c);
    const place = output.path && !output.inPlace ? await startPlacement(pool, output.path, this.v.m, skip, (p) => this.onPlaced(p)) : undefined;
    try {
      await this.scanLocal(local, pool, place);
    } finally {
      // Threads keep a placement until dropped: a caller's pool outlives this pull.
      await place?.stop().catch(() => undefined);
    }
  }

  /** Finds the version's chunks in the local copy, in file order; fetches the gaps it closes (not in place: there copies go first). */
  private async scanLocal(local: SyncSource, pool: WorkerPool<ThreadApi>, place: Placement | undefined): Promise<void> {
    const { m } = this.v;
    const localOf = new Float64Array(m.lengths.length).fill(-1);
    const seen = new Uint8Array(this.wanted.classes); // classes found: every chunk of one is marked at its first find
    const gaps = new ClosedGaps(localOf);
    const closed: Span[] = [];
    for await (const b of signatures(local, { chunking: m.chunking, pool, signal: this.options.signal, place })) {
      this.fetches.check();
      this.blocks?.check();
      let at = b.offset;
      for (let j = 0; j < b.lengths.length; at += b.lengths[j], j++) {
        this.foundAt(b.hashes.subarray(32 * j, 32 * j + 32), b.lengths[j], at, localOf, seen);
      }
      if (!this.output.inPlace) {
        const due = closeGaps(this, gaps.take(), localOf, closed);
        if (due) this.fetches.add(due);
      }
      this.report({ phase: 'scanning', foundBytes: this.foundNow(), fetchedBytes: this.fetchedNow() });
    }
    if (closed.length) this.fetches.add(packSpans(closed, this.requestBytes));
  }

  /** A chunk of the local copy at `at`: every chunk of the version with its digest comes from there. */
  private foundAt(d: Uint8Array, length: number, at: number, localOf: Float64Array, seen: Uint8Array): void {
    const { m } = this.v;
    const { wanted, from } = this;
    const c = wanted.lookup(d, length);
    if (c < 0) return;
    if (this.output.inPlace) {
      // In place, a chunk already where the version wants it needs no copy: prefer it.
      const i = chunkOfClassAt(wanted, this.offsets, at, c);
      if (i >= 0) {
        if (from[i] === FETCH) this.found += m.lengths[i];
        from[i] = at;
        this.whole.set(d, 32 * i);
      }
    }
    if (seen[c]) return;
    seen[c] = 1;
    for (const i of wanted.members(c)) {
      if (localOf[i] < 0) localOf[i] = at;
      if (from[i] !== FETCH) continue;
      this.found += m.lengths[i];
      from[i] = at;
      this.whole.set(d, 32 * i);
    }
  }

  /**
   * The copies and the rest of the fetches. In place every copy reads old
   * bytes a fetched chunk may overwrite: copies first. Otherwise they run
   * while the fetches wait on the network.
   */
  private async copyAndFetch(): Promise<void> {
    const { m } = this.v;
    const n = m.lengths.length;
    const inPlace = this.output.inPlace ? planInPlace(this.from, m, this.offsets) : null;
    this.copied = this.placed;
    if (inPlace) await this.copyAll(inPlace);
    claimFetches(this.from, this.wanted, this.fetchedFirst, 0, n);
    const rest = fetchBatches(this.from, m, this.offsets, this.requestBytes);
    this.layout = {
      found: foundRuns(this.from, this.offsets),
      fetch: [...this.closedSpans, ...rest.flat()].map((sp): [number, number] => [sp.offset, sp.length]),
    };
    this.report({ phase: 'fetching', foundBytes: this.foundNow(), fetchedBytes: this.fetchedNow(), layout: this.layout });
    if (this.early.length)
      this.report({ phase: 'fetching', foundBytes: this.foundNow(), fetchedBytes: this.fetchedNow(), landed: this.early.map((sp) => [sp.offset, sp.length]) });
    this.fetches.add(rest);
    // The block refiner hands the chunks that fail their check to the fetcher: it ends first.
    await Promise.all([inPlace ? Promise.resolve() : this.copyAll(null), this.blocks?.done().then(() => this.fetches.done()) ?? this.fetches.done()]);
  }

  /** Copies from the local copy (in place: ordered on their conflicts), and the all-zero chunks of an output that is not new. */
  private async copyAll(inPlace: ReturnType<typeof planInPlace> | null): Promise<void> {
    const { m } = this.v;
    const { output, local, k, whole, offsets, options, from } = this;
    if (inPlace && output.inPlace) {
      this.copied = await copyInPlace(k, output, output.inPlace, inPlace, m, offsets, whole, options.key);
      await writeZeros(output, from, m, offsets); // after the copies: they may read what these overwrite
      return;
    }
    await writeZeros(output, from, m, offsets);
    if (local) this.copied += await copyFromLocal(k, local, output, from, m, offsets, whole, options.key);
  }

  /** The root checked against every chunk's digest, then the output published over the copy. */
  private async finish(): Promise<PullResult> {
    const { m, version, root, metadata } = this.v;
    const { output, options } = this;
    const fetched = this.fetchedNow();
    const requests = this.fetches.requests + (this.blocks?.requests ?? 0);
    if (output.inPlace && m.size < output.inPlace.oldSize) await output.inPlace.resize(m.size);
    if (toHex(this.k.blake3(this.whole)) !== root) {
      throw new RootMismatch('CHECKSUM_MISMATCH', `the pulled chunks of ${options.key} do not give the version's root ${root}: nothing was replaced`);
    }
    await output.publish();
    this.report({ phase: 'done', foundBytes: this.foundNow(), fetchedBytes: fetched });
    return {
      key: options.key,
      version,
      size: m.size,
      root,
      ...(metadata ? { metadata } : {}),
      chunks: m.lengths.length,
      copiedBytes: this.copied,
      placedBytes: this.placed,
      resumedBytes: this.resumedBytes,
      blockBytes: this.blocks?.local ?? 0,
      fetchedBytes: fetched - this.dupBytes,
      dupBytes: this.dupBytes,
      zeroBytes: this.zeroBytes,
      requests,
      bytesReceived: this.received,
      seconds: (performance.now() - this.started) / 1000,
    };
  }
}
