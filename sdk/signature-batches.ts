// The calling thread's part of the parallel CDC signature pass: stitch each
// segment's scan in file order, and turn the chunks it completes into a hash
// job for a worker. Chunks that began in earlier segments are hashed from a
// copy of their bytes carried over here (the open chunk, < max bytes: the
// stitcher never leaves a chunk open past max); the rest are hashed in place
// from the segment's own buffer, which is transferred, not copied.
import type { Chunk } from './kernels/chunker.js';
import { type CdcTables, type SegmentScan, SegmentStitcher } from './kernels/segments.js';
import type { ChunkRun } from './pool/worker-api.js';

/** FastCDC-2020 parameters (the cdc ChunkingSpec without its kind). */
export interface CdcParams {
  min: number;
  avg: number;
  max: number;
  level: number;
}

/** Chunks whose cut points and CRCs are final; BLAKE3 still to compute from `runs`. */
export interface HashJob {
  /** File offset of the first chunk. */
  offset: number;
  lengths: Uint32Array;
  crcs: Uint32Array;
  /** The chunks' bytes for the worker: at most two runs (carried head, then in-segment chunks). */
  runs: ChunkRun[];
  /** The runs' buffers, to transfer with them. */
  transfer: ArrayBuffer[];
}

/**
 * Stitches segment scans in file order and keeps the open chunk's bytes.
 * @example const b = new CdcBatcher(tables, spec); const job = b.push(scan, bytes); ...; const last = b.finish()
 */
export class CdcBatcher {
  private readonly stitcher: SegmentStitcher;
  /** Bytes [tailStart, tailStart + tailLength): the open chunk so far. */
  private tail: Uint8Array;
  private tailStart = 0;
  private tailLength = 0;

  constructor(tables: CdcTables, params: CdcParams) {
    this.stitcher = new SegmentStitcher(tables, params);
    this.tail = new Uint8Array(Math.min(params.max, 1 << 16));
  }

  /** Bytes held for the open chunk (at most max). */
  get carried(): number {
    return this.tailLength;
  }

  /** Stitches the next segment; returns the chunks it completes, or null if none. Reads `segment` only during the call. */
  push(scan: SegmentScan, segment: Uint8Array): HashJob | null {
    return this.take(this.stitcher.push(scan, segment), segment, scan.offset);
  }

  /** Ends the file: the last chunk (all of it carried), or null for an empty file. */
  finish(): HashJob | null {
    return this.take(this.stitcher.finish(), new Uint8Array(0), this.tailStart + this.tailLength);
  }

  /** `chunks` were completed by `segment` (at file offset `a`, right after the tail). */
  private take(chunks: Chunk[], segment: Uint8Array, a: number): HashJob | null {
    if (!chunks.length) {
      this.append(segment);
      return null;
    }
    const n = chunks.length;
    const lengths = new Uint32Array(n);
    const crcs = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      lengths[i] = chunks[i].length;
      crcs[i] = chunks[i].crc32;
    }
    const end = (c: Chunk) => c.offset + c.length;
    const job: HashJob = { offset: chunks[0].offset, lengths, crcs, runs: [], transfer: [] };
    // Chunks that start before the segment: one buffer of tail + segment head.
    let i = 0;
    while (i < n && chunks[i].offset < a) i++;
    if (i > 0) {
      const headEnd = end(chunks[i - 1]);
      const head = new Uint8Array(headEnd - this.tailStart);
      head.set(this.tail.subarray(0, Math.min(this.tailLength, head.length)));
      if (headEnd > a) head.set(segment.subarray(0, headEnd - a), a - this.tailStart);
      const ends = endsOf(chunks, 0, i, this.tailStart);
      job.runs.push({ bytes: head, ends });
      job.transfer.push(head.buffer, ends.buffer);
    }
    // Chunks inside the segment: hashed in place.
    if (i < n) {
      const from = chunks[i].offset - a;
      const ends = endsOf(chunks, i, n, a + from);
      job.runs.push({ bytes: segment.subarray(from, from + ends[ends.length - 1]), ends });
      job.transfer.push(segment.buffer as ArrayBuffer, ends.buffer);
    }
    // The new open chunk starts at the last cut.
    const cut = end(chunks[n - 1]);
    if (cut >= a) {
      this.tailLength = 0;
      this.append(segment.subarray(cut - a));
    } else {
      this.tail.copyWithin(0, cut - this.tailStart, this.tailLength);
      this.tailLength -= cut - this.tailStart;
      this.append(segment);
    }
    this.tailStart = cut;
    return job;
  }

  private append(bytes: Uint8Array): void {
    if (this.tailLength + bytes.length > this.tail.length) {
      const bigger = new Uint8Array(Math.max(this.tail.length * 2, this.tailLength + bytes.length));
      bigger.set(this.tail.subarray(0, this.tailLength));
      this.tail = bigger;
    }
    this.tail.set(bytes, this.tailLength);
    this.tailLength += bytes.length;
  }
}

/** End offsets of chunks[from..to) relative to `base`. */
function endsOf(chunks: Chunk[], from: number, to: number, base: number): Uint32Array<ArrayBuffer> {
  const ends = new Uint32Array(to - from);
  for (let i = from; i < to; i++) ends[i - from] = chunks[i].offset + chunks[i].length - base;
  return ends;
}
