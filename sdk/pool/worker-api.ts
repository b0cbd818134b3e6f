// What a pool worker does, runtime-neutral: the entry files (node-worker.ts,
// browser-worker.ts) only expose this object over comlink. Buffers come in
// and go out transferred, never copied.
import { transfer } from 'comlink';
import { type ChunkOptions, init, type Kernels } from '../kernels/index.js';
import { type CdcTables, type SegmentScan, cdcTables } from '../kernels/segments.js';

/** FastCDC parameters of a scan (no BLAKE3 flag: scans only cut). */
export type ScanOptions = Omit<ChunkOptions, 'blake3'>;

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
  /** Loads the kernels in this worker; returns whether the SIMD build runs. */
  async init(): Promise<boolean> {
    kernels ??= await init();
    return kernels.simd;
  },
  /** FastCDC-2020 chunks of a whole buffer: lengths, CRCs and 32-byte BLAKE3s as flat arrays. */
  chunk(bytes: Uint8Array, options: ChunkOptions): ChunkRecords {
    const chunks = k().chunk(bytes, { ...options, blake3: true });
    const lengths = Uint32Array.from(chunks, (c) => c.length);
    const crcs = Uint32Array.from(chunks, (c) => c.crc32);
    const hashes = new Uint8Array(chunks.length * 32);
    chunks.forEach((c, i) => hashes.set(c.blake3!, i * 32));
    const r = { lengths, crcs, hashes };
    return transfer(r, buffers(r));
  },
  /**
   * Speculative chunks of one segment (see signature-batches.ts): the
   * sequential chunker with CRC-32 and BLAKE3 over `bytes` as if a chunk began
   * at its first byte. Returns the records and, so the caller can
   * resynchronise without a copy, the buffer itself.
   */
  chunkSegment(bytes: Uint8Array, options: ScanOptions): ChunkRecords & { bytes: Uint8Array } {
    const chunks = k().chunk(bytes, { ...options, blake3: true });
    const n = chunks.length;
    const lengths = new Uint32Array(n);
    const crcs = new Uint32Array(n);
    const hashes = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) {
      lengths[i] = chunks[i].length;
      crcs[i] = chunks[i].crc32;
      hashes.set(chunks[i].blake3!, i * 32);
    }
    const r = { lengths, crcs, hashes, bytes };
    return transfer(r, [...buffers(r), bytes.buffer]);
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
    const r = { lengths, crcs, hashes: k().blake3Chunks(bytes, ends) };
    return transfer(r, buffers(r));
  },
  /** The gear and mask tables a SegmentStitcher needs, so the calling thread loads no wasm. */
  cdcTables(): CdcTables {
    return cdcTables(k().instance);
  },
};

export type WorkerApi = typeof workerApi;
