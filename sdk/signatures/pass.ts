// The client's signature pass: every chunk of the new file with its length,
// CRC-32 and BLAKE3, in file order, in batches released as soon as they are
// final, so match requests can go out while later segments are being chunked.
//
// CDC (FastCDC-2020), per segment of `segmentSize` bytes (the first one per
// worker 1 MiB):
//   worker: read [a, b) (itself when the source has a `location`: a file
//   path or a Blob; else this thread reads and transfers it), the sequential
//   chunker (cut + CRC + BLAKE3 in one pass) as if a chunk began at a -> here,
//   in file order: CdcResync continues the true chunk stream until it meets
//   one of the segment's cuts (usually within a chunk or two), from where the
//   worker's chunks are the true ones.
// The chunks equal k.chunk(wholeFile) for any worker count and segment size
// (see signature-batches.ts). Fixed blocks: segments aligned to the block,
// read (same rule), CRC + BLAKE3 in one worker task each.
//
// Memory: a segment holds a slot from its read until its batch is taken by
// the caller, so at most maxInFlight segments are in flight (2 x pool size
// by default): when workers read, each holds only its records, its first
// 2 x max bytes and its final chunk here (plus one kernel region of a
// segment per worker); else up to maxInFlight 8 MiB buffers. Plus the bytes
// held for the open chunk (< 4 x max), whatever the file size.
import { type Deferred, deferred, quiet } from '../../core/base/deferred.js';
import { WIRE_LIMITS, FIXED_BLOCK_MIN } from '../../core/base/limits.js';
import { proxy, type Remote, transfer } from 'comlink';
import { DeltaflareError, checkRange } from '../../core/base/errors.js';
import { type Kernels, defaultKernels, init } from '../../core/kernels/index.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ChunkRecords, Placed, RunChunking, SegmentSink, SpeculativeChunks, ThreadApi } from '../pool/thread-api.js';
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import { type CdcParams, CdcResync, RESYNC_HEAD, type SegmentChunks } from './batches.js';
import { Semaphore } from '../../core/base/semaphore.js';
import type { SourceLocation, SyncSource } from '../source.js';
import { Layout } from './layout.js';

/** Consecutive chunks of the file, in file order. */
export interface ChunkBatch {
  /** Index of the first chunk in the whole file. */
  firstIndex: number;
  /** File offset of the first chunk. */
  offset: number;
  lengths: Uint32Array;
  /** zlib CRC-32 of each chunk. */
  crcs: Uint32Array;
  /** BLAKE3 of each chunk, 32 bytes each. */
  hashes: Uint8Array;
}

export interface SignatureOptions {
  chunking: ChunkingSpec;
  /** Workers that chunk and hash (createNodePool / createBrowserPool); owned by the caller. */
  pool: WorkerPool<ThreadApi>;
  /** Bytes read per worker task (default 8 MiB, 1 B..256 MiB; rounded down to whole blocks for fixed chunking). */
  segmentSize?: number;
  /** Reads not yet handed to the caller: segments this thread read, or runs workers read (default 2 x pool size, 1..1024). */
  maxInFlight?: number;
  /** Stops reading and scheduling; the iteration rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called with the bytes covered by each batch, just before it is yielded. */
  onBytes?: (bytes: number) => void;
  /** Workers read their segments from `source.location` when it has one (default true); false: this thread reads and transfers them. */
  readInWorkers?: boolean;
  /**
   * A pull's placement set on every worker (thread-api.ts setPlacement):
   * workers that read the source write the chunks it wants to its output and
   * `onPlaced` hears of them. Ignored when this thread reads the source.
   */
  place?: { id: number; onPlaced(placed: Placed): void };
}

/** Default segment size: large enough that per-task overhead (~0.1 ms) is < 1% at ~500 MB/s per worker. */
export const DEFAULT_SEGMENT_SIZE = 8 << 20;

/**
 * Chunks, CRCs and BLAKE3s of `source`, in file order, in batches.
 * @example
 * const pool = await createNodePool(2);
 * for await (const b of signatures(await fileSource(path), { chunking: DEFAULT_CHUNKING, pool })) send(b);
 * pool.terminate();
 */
export async function* signatures(source: SyncSource, options: SignatureOptions): AsyncGenerator<ChunkBatch, void, undefined> {
  const { chunking, pool, signal, onBytes } = options;
  const segment = segmentSize(chunking, options.segmentSize ?? DEFAULT_SEGMENT_SIZE);
  const maxInFlight = options.maxInFlight ?? 2 * pool.size;
  checkRange('maxInFlight', maxInFlight, 1, 1024);
  signal?.throwIfAborted();

  const run = new PassState(pool, maxInFlight);
  const onAbort = () => run.stop(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const unit = chunking.kind === 'fixed' ? chunking.block : 1;
  const layout = new Layout(source.size, segment, unit, pool.size);
  const segments = layout.segments.length;
  const at = options.readInWorkers === false ? undefined : source.location;
  // A slot per segment read here, per run read by a worker: freed when the caller takes its (last) batch.
  const frees = new Set(at ? layout.runs.map(([, end]) => end - 1) : layout.segments.keys());
  const reading = at ? readRuns(run, source, at, chunking, layout, options.place) : readHere(run, source, chunking, layout);
  reading.catch((e) => run.stop(e));
  try {
    let firstIndex = 0;
    const batches = chunking.kind === 'cdc' ? segments + 1 : segments; // CDC: + the last chunk
    for (let j = 0; j < batches; j++) {
      const records = await run.result(j);
      if (frees.has(j)) run.slots.release();
      if (!records?.lengths.length) continue;
      const batch = { firstIndex, ...records };
      firstIndex += records.lengths.length;
      onBytes?.(records.lengths.reduce((n, l) => n + l, 0));
      yield batch;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    run.stop(new Error('deltaflare: signature pass closed')); // ends the reader; never surfaced
  }
}

/** The segment size for `chunking`, checked; fixed blocks get whole blocks per segment. */
function segmentSize(chunking: ChunkingSpec, requested: number): number {
  checkRange('segmentSize', requested, 1, 256 << 20);
  if (chunking.kind === 'cdc') return requested;
  if (chunking.kind !== 'fixed') throw new DeltaflareError('INVALID_ARGUMENT', `unknown chunking kind ${(chunking as { kind: string }).kind}`);
  checkRange('fixed block', chunking.block, FIXED_BLOCK_MIN, WIRE_LIMITS.maxChunkLength);
  return Math.max(1, Math.floor(requested / chunking.block)) * chunking.block;
}

type Records = Omit<ChunkBatch, 'firstIndex'>;

/** State shared by the reader and the consumer of one pass. */
class PassState {
  readonly slots: Semaphore;
  private readonly results = new Map<number, Deferred<Records | null>>();
  private stopReason: { reason: unknown } | undefined;
  private readonly stopped: Deferred<never> = deferred();

  constructor(
    readonly pool: WorkerPool<ThreadApi>,
    maxInFlight: number,
  ) {
    this.slots = new Semaphore(maxInFlight);
  }

  /** Segment buffers back from their workers, for the next reads (at most maxInFlight exist). */
  private readonly free: ArrayBuffer[] = [];
  buffer(size: number): ArrayBuffer {
    const b = this.free.pop();
    return b && b.byteLength >= size ? b : new ArrayBuffer(size);
  }
  recycle(b: ArrayBuffer): void {
    if (b.byteLength && !this.stopReason) this.free.push(b);
  }

  /** Ends the pass: waits reject with `reason`, queued worker tasks are skipped. Only the first call counts. */
  stop(reason: unknown): void {
    if (this.stopReason) return;
    this.stopReason = { reason };
    this.stopped.reject(reason);
    this.slots.fail(reason);
  }

  /** Throws the stop reason once stopped (checked before each read and each worker task). */
  check(): void {
    if (this.stopReason) throw this.stopReason.reason;
  }

  /** Runs a worker task unless the pass has stopped by the time a worker is free. */
  task<R>(fn: (api: Remote<ThreadApi>) => Promise<R>, urgent = false): Promise<R> {
    return this.pool.run(
      (api) => {
        this.check();
        return fn(api);
      },
      { urgent },
    );
  }

  /** Sets batch j's outcome (a promise, in any order). */
  settle(j: number, value: Promise<Records | null>): void {
    quiet(value);
    this.slot(j).resolve(value);
  }

  /** Batch j, or the stop reason, whichever comes first. */
  async result(j: number): Promise<Records | null> {
    const d = this.slot(j);
    try {
      return await Promise.race([d.promise, this.stopped.promise]);
    } finally {
      this.results.delete(j);
    }
  }

  private slot(j: number): Deferred<Records | null> {
    let d = this.results.get(j);
    if (!d) {
      d = deferred();
      this.results.set(j, d);
    }
    return d;
  }
}

/**
 * Workers read the source themselves, a run at a time (one read each), and
 * send back each segment's records as it is chunked: for CDC with only the
 * bytes the resynchronisation needs (head and final chunk, ~130 KiB of
 * 8 MiB), resynchronised here in file order.
 */
async function readRuns(
  run: PassState,
  source: SyncSource,
  location: SourceLocation,
  spec: ChunkingSpec,
  layout: Layout,
  place: SignatureOptions['place'],
): Promise<void> {
  const cdc = spec.kind === 'cdc' ? await cdcResync(spec) : undefined;
  const chunking: RunChunking = cdc
    ? { kind: 'cdc', params: cdc.params, head: RESYNC_HEAD(cdc.params.max) }
    : { kind: 'fixed', block: (spec as { block: number }).block };
  const order = new InOrder(run, cdc?.resync, layout.segments.length);
  for (const [first, end] of layout.runs) {
    await run.slots.acquire();
    run.check();
    const segments = layout.segments.slice(first, end);
    const arrived = segments.map(() => deferred<ChunkRecords | SpeculativeChunks>());
    const sink: SegmentSink = (i, r) => {
      if (r.placed) place?.onPlaced(r.placed);
      arrived[i].resolve(r);
    };
    const task = run.task((api) =>
      api.chunkRunAt(
        location,
        segments[0][0],
        segments.map(([, l]) => l),
        chunking,
        proxy(sink) as unknown as Remote<SegmentSink>,
        place?.id,
      ),
    );
    task.catch((e) => {
      for (const d of arrived) d.reject(e);
    });
    segments.forEach(([offset, length], i) => {
      order.add(
        first + i,
        arrived[i].promise.then((r) =>
          cdc ? { offset, length, ...(r as SpeculativeChunks), whole: () => read(run, source, offset, length) } : { offset, ...r },
        ),
      );
    });
  }
  order.finish();
}

/** This thread reads each segment and transfers it to a worker, which chunks it (sources without a location). */
async function readHere(run: PassState, source: SyncSource, spec: ChunkingSpec, layout: Layout): Promise<void> {
  const cdc = spec.kind === 'cdc' ? await cdcResync(spec) : undefined;
  const order = new InOrder(run, cdc?.resync, layout.segments.length);
  for (const [j, [offset, length]] of layout.segments.entries()) {
    await run.slots.acquire();
    if (cdc) {
      const bytes = await readSegment(run, source, offset, length, layout.segment);
      order.add(
        j,
        run
          .task((api) => api.chunkSegment(transfer(bytes, [bytes.buffer]), cdc.params))
          .then((r) => ({
            offset,
            length,
            head: r.bytes,
            last: r.bytes.subarray(length - r.lengths[r.lengths.length - 1]),
            ...r,
            recycle: r.bytes.buffer as ArrayBuffer,
          })),
      );
    } else {
      const bytes = await read(run, source, offset, length);
      const block = (spec as { block: number }).block;
      order.add(
        j,
        run.task((api) => api.fixedBlocks(transfer(bytes, [bytes.buffer]), block)).then((r) => ({ offset, ...r })),
      );
    }
  }
  order.finish();
}

/** The resynchroniser of a CDC pass and its parameters (checked: throws INVALID_ARGUMENT). */
async function cdcResync(spec: ChunkingSpec & { kind: 'cdc' }): Promise<{ resync: CdcResync; params: CdcParams }> {
  const params = { min: spec.min, avg: spec.avg, max: spec.max, level: spec.level };
  return { resync: new CdcResync(await kernels(), params), params };
}

/**
 * Settles each segment's batch in file order: fixed blocks as they are,
 * CDC segments once resynchronised after the one before (and batch
 * `count`, the file's last chunk, at the end).
 */
class InOrder {
  private joined: Promise<unknown> = Promise.resolve();
  constructor(
    private readonly run: PassState,
    private readonly resync: CdcResync | undefined,
    private readonly count: number,
  ) {}

  add(j: number, segment: Promise<(SegmentChunks & { recycle?: ArrayBuffer }) | Records>): void {
    const { resync, run } = this;
    if (!resync) {
      run.settle(j, segment as Promise<Records>);
      return;
    }
    const job = Promise.all([segment, this.joined]).then(async ([r]) => {
      run.check();
      const s = r as SegmentChunks & { recycle?: ArrayBuffer };
      const records = await resync.push(s);
      if (s.recycle) run.recycle(s.recycle); // push keeps no view of it
      return records;
    });
    this.joined = quiet(job);
    run.settle(j, job);
  }

  finish(): void {
    if (this.resync)
      this.run.settle(
        this.count,
        this.joined.then(() => this.resync!.finish()),
      );
  }
}

/**
 * Reads a CDC segment into a recycled buffer when the source can (a buffer
 * comes back from its worker with the chunks and is reused once resynchronised),
 * else as read(). Without reuse, 8 MiB buffers dropped on this thread waited
 * for V8's external-memory GC: +60 MiB of client peak RSS on a 108 MiB push.
 */
async function readSegment(run: PassState, source: SyncSource, offset: number, length: number, segment: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!source.readInto) return read(run, source, offset, length);
  run.check();
  const bytes = new Uint8Array(run.buffer(segment), 0, length);
  await source.readInto(offset, bytes);
  run.check();
  return bytes;
}

/** Reads exactly [offset, offset + length) into a buffer of its own (so it can be transferred). */
async function read(run: PassState, source: SyncSource, offset: number, length: number): Promise<Uint8Array<ArrayBuffer>> {
  run.check();
  const bytes = await source.read(offset, length);
  run.check();
  if (bytes.length !== length) {
    throw new DeltaflareError(
      'INVALID_ARGUMENT',
      `source read ${bytes.length} bytes at offset ${offset}, expected ${length} of its ${source.size}: did it change while being read?`,
    );
  }
  // A view into a larger or shared buffer (e.g. Node's Buffer pool) cannot be handed over whole.
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  return own ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** This thread's kernels for the resynchronisation: the default ones when init() ran (sync() does), else loaded once. */
let loading: Promise<Kernels> | undefined;
function kernels(): Promise<Kernels> {
  try {
    return Promise.resolve(defaultKernels());
  } catch {
    loading ??= init();
    return loading;
  }
}
