// What a pool worker does, runtime-neutral: the entry files (node-worker.ts,
// browser-worker.ts) only expose this object over comlink (Node's also
// teaches it to read files by path). Buffers come in and go out transferred,
// never copied.
//
// Only the kernels' API is imported statically: a pool that posts the
// compiled module (nodePool) never loads the base64 builds here; init()
// without one imports them.
import { transfer } from 'comlink';
import { type ChunkOptions, Kernels } from '../kernels/api.js';
import { instantiate } from '../kernels/instance.js';
import type { SourceLocation } from '../source.js';
import { type CdcTables, type SegmentScan, cdcTables } from '../kernels/segments.js';

/** FastCDC parameters of a scan (no BLAKE3 flag: scans only cut). */
export type ScanOptions = Omit<ChunkOptions, 'blake3'>;


/** Fills `target` with the bytes of the file at `path` from `offset` (set by the Node entry; throws if the file is shorter). */
export type PathReader = (path: string, offset: number, target: Uint8Array) => void | Promise<void>;
let readPath: PathReader | undefined;
/** Lets this worker read `{ path }` locations (node-worker.ts: positional fs reads). */
export function setPathReader(reader: PathReader): void {
  readPath = reader;
}

/** Fills `target` from `location` at `offset`. */
async function readAt(location: SourceLocation, offset: number, target: Uint8Array): Promise<void> {
  if ('blob' in location) {
    // Browsers (and Node's Blob): the slice is read off the calling thread, then copied once into kernel memory.
    const bytes = new Uint8Array(await location.blob.slice(offset, offset + target.length).arrayBuffer());
    if (bytes.length !== target.length) throw new Error(`deltaflare: the source has ${bytes.length} bytes at offset ${offset}, expected ${target.length}: did it change while being read?`);
    target.set(bytes);
    return;
  }
  if (!readPath) throw new Error('deltaflare: this worker cannot read files by path');
  await readPath(location.path, offset, target);
}

/** Reads [offset, offset + length) of `location` into this worker's kernel memory, where kernels read it in place. */
async function readIn(location: SourceLocation, offset: number, length: number): Promise<Uint8Array> {
  const view = k().allocInput(length);
  await readAt(location, offset, view);
  return view;
}

let kernels: Kernels | undefined;
const k = (): Kernels => {
  if (!kernels) throw new Error('worker used before init()');
  return kernels;
};

/** Consecutive chunks of `bytes` ending at `ends` (as blake3Chunks takes them). */
export interface ChunkRun {
  bytes: Uint8Array;
  ends: Uint32Array;
}

/** Per-chunk records as flat arrays: lengths, CRC-32s and 32-byte BLAKE3s. */
export interface ChunkRecords {
  lengths: Uint32Array;
  crcs: Uint32Array;
  hashes: Uint8Array;
}

/** The buffers of `records`, for a transfer list. */
const buffers = (r: ChunkRecords) => [r.lengths.buffer, r.crcs.buffer, r.hashes.buffer];

export const workerApi = {
  /**
   * Loads the kernels in this worker: from the compiled module when given
   * (posted by the pool; instantiating it takes ~1 ms), else compiled here
   * from the embedded builds. Returns whether the SIMD build runs.
   */
  async init(compiled?: { module: WebAssembly.Module; simd: boolean }): Promise<boolean> {
    if (!kernels) {
      if (compiled) kernels = new Kernels(await instantiate(() => compiled.module, compiled.simd));
      else kernels = await (await import('../kernels/index.js')).init();
    }
    return kernels.simd;
  },
  /** FastCDC-2020 chunks of a whole buffer: lengths, CRCs and 32-byte BLAKE3s as flat arrays. */
  chunk(bytes: Uint8Array, options: ChunkOptions): ChunkRecords {
    const r = k().chunkRecords(bytes, options);
    return transfer(r, buffers(r));
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
  /**
   * chunkSegment of [offset, offset + length) of `location`, read here into
   * kernel memory and chunked in place: the calling thread gets the records,
   * the first `head` bytes (all of them when there is at most one chunk) and
   * the final chunk's bytes, which is all the resynchronisation needs
   * (signature-batches.ts), instead of the segment.
   */
  async chunkSegmentAt(location: SourceLocation, offset: number, length: number, options: ScanOptions, head: number): Promise<ChunkRecords & { head: Uint8Array; last: Uint8Array }> {
    const view = await readIn(location, offset, length);
    const chunks = k().chunkRecords(view, options);
    const n = chunks.lengths.length;
    const r = { ...chunks, head: view.slice(0, n <= 1 ? length : Math.min(length, head)), last: view.slice(n ? length - chunks.lengths[n - 1] : length) };
    return transfer(r, [...buffers(r), r.head.buffer, r.last.buffer]);
  },
  /** fixedBlocks of [offset, offset + length) of `location`, read here into kernel memory and hashed in place. */
  async fixedBlocksAt(location: SourceLocation, offset: number, length: number, block: number): Promise<ChunkRecords> {
    const r = blocks(await readIn(location, offset, length), block);
    return transfer(r, buffers(r));
  },
  /** BLAKE3 of consecutive chunks of `bytes` ending at `ends`. */
  blake3Chunks(bytes: Uint8Array, ends: Uint32Array): Uint8Array {
    const digests = k().blake3Chunks(bytes, ends);
    return transfer(digests, [digests.buffer]);
  },
  /**
   * Scans a segment for parallel chunking. `buffer` holds the `lookbehind`
   * bytes before the segment (<= 47 are used), then the segment, whose first
   * byte is at file offset `offset`. Returns the scan and, so the caller can
   * stitch and hash without a copy, the buffer itself.
   */
  scanSegment(buffer: Uint8Array, lookbehind: number, offset: number, options: ScanOptions): { scan: SegmentScan; buffer: Uint8Array } {
    const scan = k().scanSegment(buffer.subarray(lookbehind), { offset, lookbehind: buffer.subarray(0, lookbehind) }, options);
    return transfer({ scan, buffer }, [buffer.buffer, scan.candidates.buffer, scan.crcs.buffer, scan.strideCrcs.buffer]);
  },
  /** BLAKE3 of the chunks of several runs, concatenated in run order (32 bytes each). */
  hashChunks(runs: ChunkRun[]): Uint8Array {
    const count = runs.reduce((n, r) => n + r.ends.length, 0);
    const out = new Uint8Array(count * 32);
    let at = 0;
    for (const r of runs) {
      out.set(k().blake3Chunks(r.bytes, r.ends), at);
      at += r.ends.length * 32;
    }
    return transfer(out, [out.buffer]);
  },
  /** Fixed-size chunking of a block-aligned segment: blocks of `block` bytes, the last maybe shorter. */
  fixedBlocks(bytes: Uint8Array, block: number): ChunkRecords {
    const r = blocks(bytes, block);
    return transfer(r, buffers(r));
  },
  /** The gear and mask tables a SegmentStitcher needs, so the calling thread loads no wasm. */
  cdcTables(): CdcTables {
    return cdcTables(k().instance);
  },
};

export type WorkerApi = typeof workerApi;

/** Blocks of `block` bytes (the last maybe shorter) with CRC and BLAKE3. */
function blocks(bytes: Uint8Array, block: number): ChunkRecords {
  const count = Math.ceil(bytes.length / block);
  const lengths = new Uint32Array(count);
  const crcs = new Uint32Array(count);
  const ends = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const start = i * block, end = Math.min(bytes.length, start + block);
    lengths[i] = end - start;
    ends[i] = end;
    crcs[i] = k().crc32(bytes.subarray(start, end));
  }
  return { lengths, crcs, hashes: k().blake3Chunks(bytes, ends) };
}
