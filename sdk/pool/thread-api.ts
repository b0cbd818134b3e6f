// What a pool worker does, runtime-neutral: the entry files (node-thread-entry.ts,
// browser-thread-entry.ts) only expose this object over comlink (Node's also
// teaches it to read files by path). Buffers come in and go out transferred,
// never copied.
//
// Only the kernels' API is imported: every pool compiles the kernels once on
// its own thread and posts the compiled module here, so a worker (and a
// browser's worker bundle) never carries the embedded builds.
import { type Remote, releaseProxy, transfer } from 'comlink';
import { type ChunkOptions, Kernels } from '../../core/kernels/api.js';
import { instantiate } from '../../core/kernels/instance.js';
import { chunkOffsets, type ShortManifest } from '../../core/protocol/manifest.js';
import { DigestIndex } from '../pull/digest-index.js';
import type { SourceLocation } from '../source.js';

/** FastCDC parameters of a scan (no BLAKE3 flag: chunk records always carry digests). */
export type ScanOptions = Omit<ChunkOptions, 'blake3'>;

/** Fills `target` with the bytes of the file at `path` from `offset` (set by the Node entry; throws if the file is shorter). */
export type PathReader = (path: string, offset: number, target: Uint8Array) => void | Promise<void>;
let readPath: PathReader | undefined;
/** Lets this worker read `{ path }` locations (node-thread-entry.ts: positional fs reads). */
export function setPathReader(reader: PathReader): void {
  readPath = reader;
}

/**
 * Reads `length` bytes of `location` from `offset` on, one target at a time
 * in order. A Blob is read as one stream over the whole range: in Chromium
 * every Blob read costs ~10 ms of CPU beyond its bytes, so a 64 MiB run read
 * once instead of as 8 slices of 8 MiB saves ~70 ms. The stream is read
 * with a BYOB reader into one reused buffer where the browser offers it:
 * Chromium reads a File ~4x faster that way than with a default reader,
 * which allocates every piece and leaves it to the garbage collector
 * (docs/benchmarks.md). A path is read with positional reads.
 */
function rangeReader(location: SourceLocation, offset: number, length: number): { fill(target: Uint8Array): Promise<void>; cancel(): void } {
  if (!('blob' in location)) {
    let at = offset;
    return {
      async fill(target) {
        if (!readPath) throw new Error('deltaflare: this worker cannot read files by path');
        await readPath(location.path, at, target);
        at += target.length;
      },
      cancel() {},
    };
  }
  const stream = location.blob.slice(offset, offset + length).stream();
  let read = 0;
  const ended = () => new Error(`deltaflare: the source ended ${offset + read} bytes in, expected ${offset + length}: did it change while being read?`);
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = stream.getReader({ mode: 'byob' });
  } catch {
    // not a byte stream here: pieces come as the stream makes them
  }
  if (byob) {
    const reader = byob;
    // BYOB_READS reads stay queued, each into its own buffer (wasm memory cannot be handed to a read: it cannot be
    // transferred), so the browser fills one while this thread copies or hashes.
    const pending: Array<Promise<ReadableStreamReadResult<Uint8Array<ArrayBuffer>>>> = [];
    const ask = (buffer: ArrayBuffer) => pending.push(reader.read(new Uint8Array(buffer)));
    for (let i = 0; i < BYOB_READS; i++) ask(new ArrayBuffer(BYOB_PIECE));
    let piece = new Uint8Array(0);
    return {
      async fill(target) {
        for (let at = 0; at < target.length; ) {
          if (!piece.length) {
            const r = await pending.shift()!;
            if (r.done || !r.value) throw ended();
            piece = r.value;
            read += piece.length;
          }
          const n = Math.min(piece.length, target.length - at);
          target.set(piece.subarray(0, n), at);
          at += n;
          piece = piece.subarray(n);
          if (!piece.length) ask(piece.buffer as ArrayBuffer);
        }
      },
      cancel: () => void reader.cancel().catch(() => {}),
    };
  }
  const reader = stream.getReader();
  let piece = new Uint8Array(0);
  return {
    async fill(target) {
      for (let at = 0; at < target.length; ) {
        if (!piece.length) {
          const r = await reader.read();
          if (r.done) throw ended();
          piece = r.value;
          read += piece.length;
        }
        const n = Math.min(piece.length, target.length - at);
        target.set(piece.subarray(0, n), at);
        piece = piece.subarray(n);
        at += n;
      }
    },
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

/**
 * BYOB reads queued per worker, of 4 MiB each: one is filled while the
 * worker copies or hashes the other. 256 MiB pass, 2 workers: 1 x 1 MiB
 * 0.74 s, 1 x 8 MiB 0.69 s, 2 x 4 MiB 0.64 s, 4 x 2 MiB 0.72 s (one noisy run each).
 */
const BYOB_READS = 2;
const BYOB_PIECE = 4 << 20;

/** An open file a worker writes chunks into at absolute offsets (set by the Node entry). */
export interface PathWriter {
  write(bytes: Uint8Array, offset: number): void;
  close(): void;
}
let openForWrite: ((path: string) => PathWriter) | undefined;
/** Lets this worker write a pull's output by path (node-thread-entry.ts: positional fs writes). */
export function setPathWriter(open: (path: string) => PathWriter): void {
  openForWrite = open;
}

/**
 * A pull's placement (sdk/pull/pull.ts): the version's chunks by digest prefix,
 * and the output file. A worker that hashes a chunk of the local copy whose
 * digest and length are those of a chunk of the version writes it there
 * straight from kernel memory, so the local copy is read and hashed once and
 * every byte written is a byte just hashed.
 */
export interface Placement {
  path: string;
  manifest: Pick<ShortManifest, 'lengths' | 'digestBytes' | 'digests'>;
  /** Classes (DigestIndex) not to place: the all-zero chunks, which the pull writes itself or leaves as holes. */
  skip?: Int32Array;
}

/** The chunks of the version a segment's bytes placed: indices into the manifest, with their whole digests. */
export interface Placed {
  indices: Uint32Array;
  digests: Uint8Array;
}

interface PlacementState {
  path: string;
  index: DigestIndex;
  offsets: Float64Array;
  /** Classes this worker has placed (or must not): each is written once, to every chunk of it. */
  done: Uint8Array;
}
const placements = new Map<number, PlacementState>();

let kernels: Kernels | undefined;
const k = (): Kernels => {
  if (!kernels) throw new Error('worker used before init()');
  return kernels;
};

/** Per-chunk records as flat arrays: lengths, CRC-32s and 32-byte BLAKE3s. */
export interface ChunkRecords {
  lengths: Uint32Array;
  crcs: Uint32Array;
  hashes: Uint8Array;
}

/** A CDC segment's speculative records, with what the resynchronisation reads of its bytes (signature-batches.ts). */
export type SpeculativeChunks = ChunkRecords & { head: Uint8Array; last: Uint8Array };

/** How a run's segments are chunked: FastCDC-2020 speculatively from each segment's start, or fixed blocks. */
export type RunChunking = { kind: 'cdc'; params: ScanOptions; head: number } | { kind: 'fixed'; block: number };

/** Receives segment `index` of a run (index within the run) as soon as it is chunked (with what it placed, in a pull). */
export type SegmentSink = (index: number, records: (ChunkRecords | SpeculativeChunks) & { placed?: Placed }) => void;

/** The buffers of `records`, for a transfer list. */
const buffers = (r: ChunkRecords) => [r.lengths.buffer, r.crcs.buffer, r.hashes.buffer];

export const threadApi = {
  /**
   * Loads the kernels in this worker from the compiled module the pool posts
   * (instantiating it takes ~1 ms). Returns whether the SIMD build runs.
   */
  async init(compiled: { module: WebAssembly.Module; simd: boolean }): Promise<boolean> {
    kernels ??= new Kernels(await instantiate(() => compiled.module, compiled.simd));
    return kernels.simd;
  },
  /** Keeps (or with null drops) placement `id` for later chunkRunAt calls. */
  setPlacement(id: number, p: Placement | null): void {
    if (!p) {
      placements.delete(id);
      return;
    }
    const index = new DigestIndex(p.manifest);
    const done = new Uint8Array(index.classes);
    for (const c of p.skip ?? []) done[c] = 1;
    placements.set(id, { path: p.path, index, offsets: chunkOffsets(p.manifest), done });
  },
  /**
   * Speculative chunks of one segment (see signature-batches.ts): the
   * sequential chunker with CRC-32 and BLAKE3 over `bytes` as if a chunk began
   * at its first byte. Returns the records and, so the caller can
   * resynchronise without a copy, the buffer itself.
   */
  chunkSegment(bytes: Uint8Array, options: ScanOptions): ChunkRecords & { bytes: Uint8Array } {
    const r = { ...k().chunkRecords(bytes, options), bytes };
    return transfer(r, [...buffers(r), bytes.buffer]);
  },
  /** Fixed-size chunking of a block-aligned segment: blocks of `block` bytes, the last maybe shorter. */
  fixedBlocks(bytes: Uint8Array, block: number): ChunkRecords {
    const r = blocks(bytes, block);
    return transfer(r, buffers(r));
  },
  /**
   * A run of consecutive segments of `location`, starting at `offset`, of
   * `lengths` bytes each: read here into kernel memory one segment at a time
   * (one read stream for the whole run) and chunked in place. Each segment's
   * records go to `sink` as soon as they are ready; a CDC segment's come with
   * its first `head` bytes (all of them when it has at most one chunk) and its
   * final chunk's bytes, which is all the resynchronisation needs, instead of
   * the segment. With `place` (a placement's id), the chunks the version
   * wants are written to its output as well, and listed. Resolves once every
   * segment was sent.
   */
  async chunkRunAt(
    location: SourceLocation,
    offset: number,
    lengths: number[],
    chunking: RunChunking,
    sink: Remote<SegmentSink>,
    place?: number,
  ): Promise<void> {
    const total = lengths.reduce((n, l) => n + l, 0);
    const reader = rangeReader(location, offset, total);
    const placement = place === undefined ? undefined : placements.get(place);
    if (place !== undefined && (!placement || !openForWrite)) throw new Error(`deltaflare: this worker cannot place chunks (placement ${place})`);
    const output = placement && openForWrite!(placement.path);
    const sent: Promise<void>[] = [];
    try {
      for (let i = 0; i < lengths.length; i++) {
        const view = k().allocInput(lengths[i]);
        await reader.fill(view);
        const r: ChunkRecords | SpeculativeChunks = chunking.kind === 'fixed' ? blocks(view, chunking.block) : speculative(view, chunking);
        const placed = output ? placeChunks(view, r, placement!, output) : undefined;
        const list = [
          ...buffers(r),
          ...('head' in r ? [(r as SpeculativeChunks).head.buffer, (r as SpeculativeChunks).last.buffer] : []),
          ...(placed ? [placed.indices.buffer, placed.digests.buffer] : []),
        ];
        sent.push(sink(i, transfer(placed ? { ...r, placed } : r, list)));
      }
    } catch (e) {
      reader.cancel();
      throw e;
    } finally {
      output?.close();
      await Promise.allSettled(sent);
      sink[releaseProxy]();
    }
  },
};

export type ThreadApi = typeof threadApi;

/** The speculative chunks of a CDC segment in kernel memory, with its head and final chunk copied out. */
function speculative(view: Uint8Array, chunking: RunChunking & { kind: 'cdc' }): SpeculativeChunks {
  const chunks = k().chunkRecords(view, chunking.params);
  const n = chunks.lengths.length;
  const length = view.length;
  return { ...chunks, head: view.slice(0, n <= 1 ? length : Math.min(length, chunking.head)), last: view.slice(n ? length - chunks.lengths[n - 1] : length) };
}

/**
 * Writes every chunk of `view` (as `r` cut it) that the placement wants to
 * each offset where it wants it, once per class (a chunk that repeats is
 * written everywhere at its first find, then skipped: linear however much
 * repeats); lists them. Chunks that follow each other in `view` and in the
 * output go out in one write: a run of unchanged data is one pwrite, not one
 * per 8 KiB chunk.
 */
function placeChunks(view: Uint8Array, r: ChunkRecords, p: PlacementState, output: PathWriter): Placed | undefined {
  const indices: number[] = [];
  const digests: Uint8Array[] = [];
  let run = { from: 0, to: 0, length: 0 }; // bytes of `view` from `from`, to be written at `to`
  const flush = () => {
    if (run.length) output.write(view.subarray(run.from, run.from + run.length), run.to);
  };
  for (let j = 0, at = 0; j < r.lengths.length; at += r.lengths[j], j++) {
    const d = r.hashes.subarray(32 * j, 32 * j + 32);
    const c = p.index.lookup(d, r.lengths[j]);
    if (c < 0 || p.done[c]) continue;
    p.done[c] = 1;
    for (const i of p.index.members(c)) {
      if (run.length && run.from + run.length === at && run.to + run.length === p.offsets[i]) run.length += r.lengths[j];
      else {
        flush();
        run = { from: at, to: p.offsets[i], length: r.lengths[j] };
      }
      indices.push(i);
      digests.push(d);
    }
  }
  flush();
  if (!indices.length) return undefined;
  const all = new Uint8Array(32 * digests.length);
  for (let j = 0; j < digests.length; j++) all.set(digests[j], 32 * j);
  return { indices: Uint32Array.from(indices), digests: all };
}

/** Blocks of `block` bytes (the last maybe shorter) with CRC and BLAKE3. */
function blocks(bytes: Uint8Array, block: number): ChunkRecords {
  const count = Math.ceil(bytes.length / block);
  const lengths = new Uint32Array(count);
  const crcs = new Uint32Array(count);
  const ends = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const start = i * block,
      end = Math.min(bytes.length, start + block);
    lengths[i] = end - start;
    ends[i] = end;
    crcs[i] = k().crc32(bytes.subarray(start, end));
  }
  return { lengths, crcs, hashes: k().blake3Chunks(bytes, ends) };
}
