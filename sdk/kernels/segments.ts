// Parallel FastCDC-2020 (the ParaSync idea): K workers scan K segments of a
// file independently (`scanSegment`, the per-byte work: gear hash and CRC-32),
// and one `SegmentStitcher` joins the scans in order into exactly the chunks,
// and CRC-32s, of the sequential chunker.
//
// The stitch never passes over the data. Per chunk it rehashes the 47
// positions after the reference's hash restart (cut + 2*floor(min/2)), where
// the scan's free-running hash differs from the restarted one; every later
// position is decided by the scan's candidate list, because masks are below
// 2^48 and the hash depends only on its last 48 bytes. A chunk's CRC comes
// from prefix CRCs with one or two GF(2) shifts (crc32_combine's algebra); a
// cut that is not a candidate reads at most `stride - 1` bytes from the last
// stride CRC. So it reads <= 47 + stride bytes per chunk, and typically 47.
//
// In a worker pool: each worker reads [a - 47, b), calls scanSegment and
// transfers the scan and the segment back (no copy); the main thread pushes
// them to one stitcher in file order as they complete. Scan records are ~0.3%
// of the segment on random data at the defaults, 8 bytes per candidate in the
// worst case (a candidate at every byte).
import { DeltaflareError, checkRange } from '../errors.js';
import { crc32Js } from '../protocol/crc32-js.js';
import type { Chunk, ChunkOptions } from './chunker.js';
import type { KernelInstance } from './instance.js';

/** Chunking parameters of a segmented run: ChunkOptions without `blake3` (the segment path computes CRCs only). */
export type SegmentOptions = Omit<ChunkOptions, 'blake3'>;

/** The records of one segment's scan; plain typed arrays, transferable between threads. */
export interface SegmentScan {
  /** The segment's first byte, as a file offset. */
  offset: number;
  length: number;
  /** CRC-32 of the whole segment. */
  crc32: number;
  /** Candidate positions (from the segment start) `| passS << 30 | passL << 31`, ascending. */
  candidates: Uint32Array;
  /** CRC-32 of the segment's bytes before each candidate. */
  crcs: Uint32Array;
  /** Bytes between stride CRCs. */
  stride: number;
  /** strideCrcs[i]: CRC-32 of the segment's first (i + 1) * stride bytes. */
  strideCrcs: Uint32Array;
  /** The chunking parameters, "min-avg-max-level", so scans made differently are refused. */
  params: string;
}

/** Where the segment lies and what precedes it. */
export interface SegmentPlace {
  /** File offset of the segment's first byte. */
  offset: number;
  /** The bytes just before the segment: at least min(47, offset), only the last 47 are used. */
  lookbehind?: Uint8Array;
}

/** Hash bytes the stitch must recheck after each restart: the mask window is 48 bytes. */
export const RECHECK = 47;

interface Params {
  min: number;
  avg: number;
  max: number;
  level: number;
  bitsS: number;
  bitsL: number;
  stride: number;
  id: string;
}

function resolve(options: SegmentOptions = {}): Params {
  const { min = 2048, avg = 8192, max = 65536, level = 1 } = options;
  checkRange('min', min, 64, 1 << 20);
  checkRange('avg', avg, 256, 4 << 20);
  checkRange('max', max, 1024, 16 << 20);
  checkRange('level', level, 0, 3);
  // avg <= max as the sequential kernel; min <= max keeps "rest <= min: one chunk" from overriding a forced cut.
  checkRange('avg', avg, 256, max);
  checkRange('min', min, 64, max);
  const bits = Math.round(Math.log2(avg));
  // stride: a power of two near max/16, 64..4096 bytes. Forced cuts (at most
  // one per max bytes) then read <= 1/16 of the data; the stride CRCs cost
  // 4/stride of the segment (0.1% at the default max 64 KiB).
  const stride = Math.min(4096, Math.max(64, 2 ** Math.floor(Math.log2(max / 16))));
  return { min, avg, max, level, bitsS: bits + level, bitsL: bits - level, stride, id: `${min}-${avg}-${max}-${level}` };
}

/** Bytes of a segment fed to the scan per call (its records need up to 9x this in scratch). */
const PIECE = 64 * 1024;
const MAX_SEGMENT = 2 ** 30 - 1; // positions are packed in 30 bits

/**
 * Scans one segment (a worker's share of the file): the per-byte work of
 * parallel chunking. Give it the 47 bytes before the segment as `lookbehind`.
 * @example const s = scanSegment(k, file.subarray(a, b), { offset: a, lookbehind: file.subarray(a - 47, a) })
 */
export function scanSegment(k: KernelInstance, segment: Uint8Array, place: SegmentPlace, options?: SegmentOptions): SegmentScan {
  const p = resolve(options);
  const { offset, lookbehind = new Uint8Array(0) } = place;
  checkRange('offset', offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange('segment length', segment.length, 0, MAX_SEGMENT);
  checkRange('lookbehind length', lookbehind.length, Math.min(RECHECK, offset), Number.MAX_SAFE_INTEGER);
  const where = k.locate(segment); // >= 0: scanned in place, scratch holds only the records
  k.locate(lookbehind); // refuses a detached region view
  const x = k.exports;
  x.cdcSegmentBegin(p.bitsS, p.bitsL, p.stride);
  const warm = lookbehind.subarray(Math.max(0, lookbehind.length - RECHECK));
  const piece = (Math.min(PIECE, Math.max(segment.length, warm.length)) + 15) & ~15; // keeps the u32 arrays aligned
  const strideRoom = Math.floor(piece / p.stride) + 1;
  const ptr = k.scratch(piece * 9 + strideRoom * 4);
  const posPtr = ptr + piece, crcPtr = posPtr + piece * 4, stridePtr = crcPtr + piece * 4;
  k.bytes.set(warm, ptr);
  x.cdcSegmentWarm(ptr, warm.length);

  const cands: Uint32Array[] = [], crcs: Uint32Array[] = [], strides: Uint32Array[] = [];
  for (let at = 0; at < segment.length; at += PIECE) {
    const bytes = segment.subarray(at, at + PIECE);
    if (where < 0) k.bytes.set(bytes, ptr);
    const n = x.cdcSegmentScan(where < 0 ? ptr : where + at, bytes.length, posPtr, crcPtr, stridePtr);
    const s = x.cdcSegmentStrides();
    const mem = k.exports.memory.buffer;
    if (n) {
      cands.push(new Uint32Array(mem, posPtr, n).slice());
      crcs.push(new Uint32Array(mem, crcPtr, n).slice());
    }
    if (s) strides.push(new Uint32Array(mem, stridePtr, s).slice());
  }
  return {
    offset,
    length: segment.length,
    crc32: x.cdcSegmentCrc() >>> 0,
    candidates: concat(cands),
    crcs: concat(crcs),
    stride: p.stride,
    strideCrcs: concat(strides),
    params: p.id,
  };
}

function concat(parts: Uint32Array[]): Uint32Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint32Array(parts.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of parts) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** GEAR and MASKS mod 2^48 as 24-bit halves, read once from a kernel instance. */
export interface CdcTables {
  gearHi: Int32Array;
  gearLo: Int32Array;
  masks: { hi: number; lo: number }[];
}

const tableCache = new WeakMap<KernelInstance, CdcTables>();

/** The chunking tables the stitch needs (no wasm call after this one). */
export function cdcTables(k: KernelInstance): CdcTables {
  let t = tableCache.get(k);
  if (!t) {
    const view = new DataView(k.exports.memory.buffer);
    const gear = k.exports.cdcSegmentGear(), masks = k.exports.cdcSegmentMasks();
    const split = (at: number) => ({ lo: view.getUint32(at, true) & 0xffffff, hi: view.getUint32(at + 3, true) & 0xffffff });
    const g = Array.from({ length: 256 }, (_, b) => split(gear + b * 8));
    t = {
      gearHi: Int32Array.from(g, (v) => v.hi),
      gearLo: Int32Array.from(g, (v) => v.lo),
      masks: Array.from({ length: 26 }, (_, i) => split(masks + i * 8)),
    };
    tableCache.set(k, t);
  }
  return t;
}

/**
 * Joins segment scans, pushed in file order with the segments' bytes, into
 * the sequential chunker's chunks. Pure JavaScript: it reads <= 47 bytes per
 * chunk plus <= stride per cut that is not a candidate, and keeps no bytes
 * between pushes (only a 48-bit hash and a few numbers).
 * @example const st = new SegmentStitcher(cdcTables(k)); for (...) out.push(...st.push(scan, bytes)); out.push(...st.finish())
 */
export class SegmentStitcher {
  private readonly p: Params;
  private readonly m0: number; // first hashed position of a chunk: 2*floor(min/2)
  private readonly zone: number; // positions below 2*floor(avg/2) use the small mask
  private readonly limit: number; // positions below 2*floor(max/2) are tested
  private readonly mS: { hi: number; lo: number };
  private readonly mL: { hi: number; lo: number };
  private next = 0; // file offset the next pushed segment must start at
  private start = 0; // current chunk's first byte
  // crc(start..e) = shift(x, e - xAt) ^ prefix(e), for e in the segment being stitched.
  private x = 0;
  private xAt = 0;
  // the restarted hash over [start + m0, win), 48 bits as two 24-bit halves
  private win: number;
  private hi = 0;
  private lo = 0;
  // a pass on a segment's last byte at an even distance: a cut only if one more byte exists
  private pending?: { at: number; crc: number; x: number };
  private finished = false;

  constructor(private readonly tables: CdcTables, options?: SegmentOptions) {
    this.p = resolve(options);
    this.m0 = 2 * Math.floor(this.p.min / 2);
    this.zone = 2 * Math.floor(this.p.avg / 2);
    this.limit = 2 * Math.floor(this.p.max / 2);
    this.mS = tables.masks[this.p.bitsS];
    this.mL = tables.masks[this.p.bitsL];
    this.win = this.m0;
  }

  /** Stitches the next segment (its scan and its bytes); returns the chunks it completes. */
  push(scan: SegmentScan, bytes: Uint8Array): Chunk[] {
    if (this.finished) throw new DeltaflareError('INVALID_ARGUMENT', 'push after finish');
    if (scan.params !== this.p.id || scan.stride !== this.p.stride) {
      throw new DeltaflareError('INVALID_ARGUMENT', `scan made with params ${scan.params}, stitcher uses ${this.p.id}`);
    }
    if (scan.offset !== this.next) {
      throw new DeltaflareError('INVALID_ARGUMENT', `segment at offset ${scan.offset}, expected the next at ${this.next}`);
    }
    if (bytes.length !== scan.length) {
      throw new DeltaflareError('INVALID_ARGUMENT', `segment bytes ${bytes.length} differ from its scan's length ${scan.length}`);
    }
    const out: Chunk[] = [];
    if (!scan.length) return out;
    const a = scan.offset, b = a + scan.length;
    this.next = b;
    if (this.pending) this.cut(out, this.pending.at, this.pending.crc, this.pending.x, a);

    const { m0, zone, limit, mS, mL } = this;
    const { gearHi, gearLo } = this.tables;
    const cands = scan.candidates;
    let i = 0; // candidate cursor
    for (;;) {
      const c = this.start;
      let q = -1; // first passing position
      let qCrc = -1; // its prefix CRC when known from the scan
      // 1. Positions [c + m0, c + m0 + 47): the restarted hash has seen < 48 bytes; rehash.
      const wEnd = c + Math.min(m0 + RECHECK, limit);
      if (this.win < wEnd) {
        if (this.win >= b) break; // the window starts in a later segment
        const stop = Math.min(wEnd, b);
        let hi = this.hi, lo = this.lo, at = this.win;
        for (; at < stop; at++) {
          const v = bytes[at - a];
          lo = lo * 2 + gearLo[v];
          hi = (hi * 2 + gearHi[v] + (lo >>> 24)) & 0xffffff;
          lo &= 0xffffff;
          const m = at - c < zone ? mS : mL;
          if (((hi & m.hi) | (lo & m.lo)) === 0) {
            q = at;
            break;
          }
        }
        this.hi = hi;
        this.lo = lo;
        this.win = q >= 0 ? wEnd : stop;
        if (q < 0 && stop < wEnd) break; // the window goes on in the next segment
      }
      // 2. Later positions up to the limit: the scan's free-running candidates are exact.
      if (q < 0) {
        const from = c + m0 + RECHECK - a, to = c + limit - a;
        while (i < cands.length && (cands[i] & MAX_SEGMENT) < from) i++;
        for (; i < cands.length; i++) {
          const rel = cands[i] & MAX_SEGMENT;
          if (rel >= to) break;
          if (cands[i] & (rel + a - c < zone ? 1 << 30 : 1 << 31)) {
            q = rel + a;
            qCrc = scan.crcs[i];
            break;
          }
        }
        if (q < 0) {
          if (i === cands.length && to > scan.length) break; // more positions in the next segment
          // No pass below the limit: a forced cut at max, once that byte is known to exist.
          if (c + this.p.max > b) break;
          const e = c + this.p.max, pe = this.prefix(scan, bytes, e - a);
          this.cut(out, e, shift(this.x, e - this.xAt) ^ pe, pe, e);
          continue;
        }
      }
      // 3. A pass at distance d is a cut if the reference tests it: the chunk's
      // remaining bytes are >= (d | 1) + 1, so an even d needs the byte after q.
      const pq = qCrc >= 0 ? qCrc : this.prefix(scan, bytes, q - a);
      const chunkCrc = shift(this.x, q - this.xAt) ^ pq;
      if (c + ((q - c) | 1) + 1 > b) {
        this.pending = { at: q, crc: chunkCrc, x: shift(pq, b - q) ^ scan.crc32 };
        break;
      }
      this.cut(out, q, chunkCrc, pq, q);
    }
    // Carry the open chunk's CRC to the segment's end.
    this.x = shift(this.x, b - this.xAt) ^ scan.crc32;
    this.xAt = b;
    return out;
  }

  /** Ends the file: returns the last chunk, if any. */
  finish(): Chunk[] {
    this.finished = true;
    this.pending = undefined; // its pass needed one more byte: not tested by the reference
    const total = this.next;
    return this.start < total ? [{ offset: this.start, length: total - this.start, crc32: this.x >>> 0 }] : [];
  }

  /** Emits [start, e) and starts the next chunk at e, whose CRC bookkeeping is (x, xAt). */
  private cut(out: Chunk[], e: number, crc: number, x: number, xAt: number): void {
    out.push({ offset: this.start, length: e - this.start, crc32: crc >>> 0 });
    this.start = e;
    this.x = x;
    this.xAt = xAt;
    this.win = e + this.m0;
    this.hi = this.lo = 0;
    this.pending = undefined;
  }

  /** CRC-32 of the segment's first `rel` bytes: the stride CRC below, continued over <= stride - 1 bytes. */
  private prefix(scan: SegmentScan, bytes: Uint8Array, rel: number): number {
    if (rel === scan.length) return scan.crc32;
    const k = Math.floor(rel / scan.stride);
    const base = k ? scan.strideCrcs[k - 1] : 0;
    return crc32Js(bytes.subarray(k * scan.stride, rel), base);
  }
}

// CRC-32 arithmetic in plain JavaScript, so the stitch needs no wasm call:
// zlib's algebra, crc(A||B) = shift(crc(A), |B|) ^ crc(B), where shift
// multiplies by x^(8|B|) mod P (reflected, bit 31 = x^0).
const POLY = 0xedb88320;

/** a * b mod P; the loop ends with a's last set bit. */
function mult(a: number, b: number): number {
  let p = 0;
  for (; a !== 0; a <<= 1) {
    p ^= b & -(a >>> 31);
    b = (b >>> 1) ^ (POLY & -(b & 1));
  }
  return p;
}

// POW[j][v] = x^(8 * v * 256^j) mod P: a shift by n < 2^32 bytes is one
// multiplication per non-zero byte of n (two for any chunk under 64 KiB).
const POW = [0, 1, 2, 3].map(() => new Int32Array(256));
for (let j = 0, one = 0x00800000; j < 4; j++) {
  POW[j][0] = 0x80000000 | 0;
  for (let v = 1; v < 256; v++) POW[j][v] = mult(POW[j][v - 1], one);
  one = mult(POW[j][255], one);
}

/** crc moved past n more bytes: crc32_combine(crc, 0, n). */
function shift(crc: number, n: number): number {
  for (let j = 0; n > 0; j++, n = Math.floor(n / 256)) {
    const v = n & 255;
    if (v) crc = mult(POW[j][v], crc);
  }
  return crc;
}
