// FastCDC-2020 chunking over the wasm kernel (assembly/fastcdc.ts): one-shot
// chunks with CRC-32 (and BLAKE3 on request), cut points only, and a
// streaming Chunker. All three drive the same window loop: copy up to
// max + WINDOW bytes that start at a cut into scratch, let the kernel cut
// every chunk whose end cannot depend on later bytes (>= max bytes left, or
// end of input), carry the rest over. Same decisions as the reference's
// StreamCDC, so the chunks never depend on how the input was split.
import { DeltaflareError, checkRange } from '../base/errors.js';
import { CDC_DEFAULTS, CDC_RANGES } from '../base/limits.js';
import type { KernelInstance } from './instance.js';

export interface ChunkOptions {
  /** Smallest chunk, bytes (64..1 MiB, default 2048). */
  min?: number;
  /** Target average, bytes (256..4 MiB, default 8192; at most max). */
  avg?: number;
  /** Largest chunk, bytes (1 KiB..16 MiB, default 65536). */
  max?: number;
  /** Normalization level 0-3 (default 1). */
  level?: number;
  /** Also compute each chunk's BLAKE3 digest. */
  blake3?: boolean;
}

export interface Chunk {
  /** Offset of the chunk's first byte in the input. */
  offset: number;
  length: number;
  /** zlib's crc32 of the chunk. */
  crc32: number;
  /** BLAKE3 digest (32 bytes), when asked for. */
  blake3?: Uint8Array;
}

/**
 * New bytes per kernel call on top of the <= max carried over. 512 KiB keeps
 * the window in Zen 4's 1 MiB L2 while the carried tail (re-copied once per
 * window) stays a small share of the copying: ~11% at max = 64 KiB.
 */
const WINDOW = 512 * 1024;
/** The kernel reads up to 32 bytes past the window (values unused; the ABI allows 64). */
const SLACK = 64;
/**
 * Chunks per kernel call at most (the loop calls again when full): bounds the
 * ends/CRCs/digests arrays at 160 KiB whatever min is (min 64 would need
 * 9000+ entries per window), so scratch stays within SCRATCH_RESERVE.
 */
const CAP = 4096;

interface Params {
  min: number;
  avg: number;
  max: number;
  level: number;
  blake3: boolean;
}

/** Checks options against the reference's limits (throws INVALID_ARGUMENT naming the limit) and fills defaults. */
export function resolveOptions(options: ChunkOptions = {}): Params {
  const { min = CDC_DEFAULTS.min, avg = CDC_DEFAULTS.avg, max = CDC_DEFAULTS.max, level = CDC_DEFAULTS.level, blake3 = false } = options;
  checkRange('min', min, ...CDC_RANGES.min);
  checkRange('avg', avg, ...CDC_RANGES.avg);
  checkRange('max', max, ...CDC_RANGES.max);
  checkRange('level', level, ...CDC_RANGES.level);
  // The reference hashes up to avg bytes before clamping to max: with avg > max
  // it reads past the buffer (a panic in Rust), so there is no answer to match.
  if (avg > max) throw new DeltaflareError('INVALID_ARGUMENT', `avg ${avg} is above max ${max}`);
  return { min, avg, max, level, blake3 };
}

/**
 * Scratch layout for one window: bytes, slack, then chunk ends, CRCs and
 * digests. A window over an input in the allocInput region is not copied:
 * its bytes are read in place and scratch holds only the arrays.
 */
class Window {
  readonly size: number;
  readonly cap: number;
  ptr = 0;
  ends = 0;
  crcs = 0;
  digests = 0;

  constructor(
    readonly k: KernelInstance,
    readonly p: Params,
  ) {
    this.size = p.max + WINDOW;
    // Every chunk but the last is >= min(min rounded down to even, max) bytes.
    this.cap = Math.min(CAP, Math.floor(this.size / Math.min(p.min & ~1, p.max)) + 2);
  }

  /** Sets the parameters and (re)takes scratch: other kernels may have used it since. */
  prepare(inPlace = false): void {
    const { k, p } = this;
    k.exports.fastcdcConfig(p.min, p.avg, p.max, p.level);
    const bytes = inPlace ? 0 : (this.size + SLACK + 15) & ~15; // keeps the u32 arrays aligned
    this.ptr = k.scratch(bytes + this.cap * (8 + (p.blake3 ? 32 : 0)));
    this.ends = this.ptr + bytes;
    this.crcs = this.ends + this.cap * 4;
    this.digests = this.crcs + this.cap * 4;
  }

  /**
   * Chunks `view` (which starts at a cut, global offset `offset`), appending
   * them to `out`; unless `last`, leaves the bytes after the last safe cut.
   * Returns how many bytes were chunked.
   */
  chunks(view: Uint8Array, offset: number, last: boolean, out: Chunk[]): number {
    this.k.bytes.set(view, this.ptr);
    return this.chunksAt(this.ptr, view.length, offset, last, out);
  }

  /** As chunks(), on `len` bytes already at `ptr` in kernel memory. */
  chunksAt(ptr: number, len: number, offset: number, last: boolean, out: Chunk[]): number {
    const { blake3 } = this.p;
    return this.scan(ptr, len, last, blake3, (n, at) => {
      const mem = this.k.bytes;
      const ends = new Uint32Array(mem.buffer, this.ends, n);
      const crcs = new Uint32Array(mem.buffer, this.crcs, n);
      let start = 0;
      for (let i = 0; i < n; i++) {
        const chunk: Chunk = { offset: offset + at + start, length: ends[i] - start, crc32: crcs[i] };
        if (blake3) chunk.blake3 = mem.slice(this.digests + i * 32, this.digests + i * 32 + 32);
        out.push(chunk);
        start = ends[i];
      }
      return start;
    });
  }

  /** As chunksAt() with BLAKE3, into flat arrays: no object or digest array per chunk. */
  recordsAt(ptr: number, len: number, last: boolean, out: Records): number {
    return this.scan(ptr, len, last, true, (n) => {
      const mem = this.k.bytes;
      out.add(new Uint32Array(mem.buffer, this.ends, n), new Uint32Array(mem.buffer, this.crcs, n), mem.subarray(this.digests, this.digests + n * 32));
      return out.lastEnd;
    });
  }

  /**
   * The cut + CRC32 (+ BLAKE3) loop of chunksAt and recordsAt: up to `cap`
   * chunks per kernel call, each batch handed to `take` (with where it
   * starts, relative to `ptr`), which answers the bytes it covers.
   */
  private scan(ptr: number, len: number, last: boolean, blake3: boolean, take: (n: number, at: number) => number): number {
    const x = this.k.exports;
    let done = 0;
    for (;;) {
      const n = x.fastcdcChunks(ptr + done, len - done, last, this.ends, this.crcs, this.cap);
      if (n === 0) return done;
      if (blake3) x.blake3Chunks(ptr + done, this.ends, n, this.digests);
      done += take(n, done);
      if (n < this.cap) return done;
    }
  }

  /** As chunksAt(), cut points only: appends absolute chunk ends to `out`. */
  cutsAt(ptr: number, len: number, offset: number, last: boolean, out: GrowingU32): number {
    const { k } = this;
    let done = 0;
    for (;;) {
      const n = k.exports.fastcdcCuts(ptr + done, len - done, last, this.ends, this.cap);
      if (n === 0) return done;
      const ends = new Uint32Array(k.bytes.buffer, this.ends, n);
      out.append(ends, offset + done);
      done += ends[n - 1];
      if (n < this.cap) return done;
    }
  }
}

/** Chunk lengths, CRC-32s and BLAKE3s as flat arrays that double as they fill. */
class Records {
  lengths = new Uint32Array(1024);
  crcs = new Uint32Array(1024);
  hashes = new Uint8Array(1024 * 32);
  count = 0;
  /** End of the last chunk added, relative to its window call. */
  lastEnd = 0;
  add(ends: Uint32Array, crcs: Uint32Array, digests: Uint8Array): void {
    const n = ends.length;
    if (this.count + n > this.lengths.length) {
      const size = Math.max(this.lengths.length * 2, this.count + n);
      const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (m: number) => T, per: number): T => {
        const b = make(size * per);
        b.set(a.subarray(0, this.count * per));
        return b;
      };
      this.lengths = grow(this.lengths, (m) => new Uint32Array(m), 1);
      this.crcs = grow(this.crcs, (m) => new Uint32Array(m), 1);
      this.hashes = grow(this.hashes, (m) => new Uint8Array(m), 32);
    }
    for (let i = 0, start = 0; i < n; start = ends[i++]) this.lengths[this.count + i] = ends[i] - start;
    this.crcs.set(crcs, this.count);
    this.hashes.set(digests, this.count * 32);
    this.count += n;
    this.lastEnd = ends[n - 1];
  }
}

/** FastCDC-2020 chunks of `bytes` with CRC-32 and BLAKE3, as flat arrays (lengths, crcs, 32-byte hashes): chunk() without a per-chunk object. */
export function chunkRecords(
  k: KernelInstance,
  bytes: Uint8Array,
  options?: Omit<ChunkOptions, 'blake3'>,
): { lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array } {
  const w = new Window(k, resolveOptions({ ...options, blake3: true }));
  const out = new Records();
  eachWindow(w, bytes, (ptr, len, _offset, last) => w.recordsAt(ptr, len, last, out));
  return { lengths: out.lengths.slice(0, out.count), crcs: out.crcs.slice(0, out.count), hashes: out.hashes.slice(0, out.count * 32) };
}

/** A Uint32Array that doubles as it fills. */
class GrowingU32 {
  array = new Uint32Array(1024);
  length = 0;
  append(values: Uint32Array, add: number): void {
    if (this.length + values.length > this.array.length) {
      const bigger = new Uint32Array(Math.max(this.array.length * 2, this.length + values.length));
      bigger.set(this.array.subarray(0, this.length));
      this.array = bigger;
    }
    for (let i = 0; i < values.length; i++) this.array[this.length++] = values[i] + add;
  }
}

/**
 * Feeds `bytes` window by window; `step` chunks one window (`len` bytes at
 * `ptr` in kernel memory, input offset `offset`) and says how many bytes it
 * consumed. An input in the allocInput region is chunked in place, windows
 * only bounding the arrays per call; any other is copied window by window.
 */
function eachWindow(w: Window, bytes: Uint8Array, step: (ptr: number, len: number, offset: number, last: boolean) => number): void {
  const where = w.k.locate(bytes);
  w.prepare(where >= 0);
  for (let offset = 0; offset < bytes.length; ) {
    const len = Math.min(bytes.length - offset, w.size);
    let ptr = where + offset;
    if (where < 0) {
      ptr = w.ptr;
      w.k.bytes.set(bytes.subarray(offset, offset + len), ptr);
    }
    offset += step(ptr, len, offset, offset + len === bytes.length);
  }
}

/** FastCDC-2020 chunks of `bytes`: offset, length, CRC-32 (and BLAKE3 with `blake3: true`). */
export function chunk(k: KernelInstance, bytes: Uint8Array, options?: ChunkOptions): Chunk[] {
  const w = new Window(k, resolveOptions(options));
  const out: Chunk[] = [];
  eachWindow(w, bytes, (ptr, len, offset, last) => w.chunksAt(ptr, len, offset, last, out));
  return out;
}

/** FastCDC-2020 cut points of `bytes`: the end offset of every chunk (the last is bytes.length). */
export function cutPoints(k: KernelInstance, bytes: Uint8Array, options?: ChunkOptions): Uint32Array {
  checkRange('bytes.length', bytes.length, 0, 0xffffffff);
  const w = new Window(k, resolveOptions(options));
  const out = new GrowingU32();
  eachWindow(w, bytes, (ptr, len, offset, last) => w.cutsAt(ptr, len, offset, last, out));
  return out.array.slice(0, out.length);
}

/**
 * Streaming FastCDC-2020: push pieces of any size, get every chunk whose
 * cut is decided (>= max bytes pending), then finish() for the rest. The
 * chunks equal chunk() of the concatenated input. Holds at most
 * max + 512 KiB pending bytes, plus nothing of a pushed piece after push returns.
 */
export class Chunker {
  private readonly w: Window;
  private readonly pending: Uint8Array;
  private length = 0;
  private offset = 0;
  private finished = false;

  constructor(
    readonly k: KernelInstance,
    options?: ChunkOptions,
  ) {
    this.w = new Window(k, resolveOptions(options));
    this.pending = new Uint8Array(this.w.size);
  }

  /**
   * Adds bytes; returns the chunks this completes (maybe none). Bytes in the
   * allocInput region are chunked in place once the pending bytes are cut
   * through; only the undecided tail (< max bytes) is copied.
   */
  push(bytes: Uint8Array): Chunk[] {
    if (this.finished) throw new DeltaflareError('INVALID_ARGUMENT', 'push() after finish()');
    const where = this.k.locate(bytes);
    const out: Chunk[] = [];
    let mine = 0; // bytes of this input at the end of pending
    for (let at = 0; at < bytes.length; ) {
      if (where >= 0 && this.length === 0) {
        this.pushInPlace(where + at, bytes.length - at, out);
        break;
      }
      const take = Math.min(bytes.length - at, this.pending.length - this.length);
      this.pending.set(bytes.subarray(at, at + take), this.length);
      this.length += take;
      mine += take;
      at += take;
      if (this.length === this.pending.length) {
        this.flush(false, out);
        // Everything pending is this input's again: drop the copy, go on in place.
        if (where >= 0 && this.length <= mine) {
          at -= this.length;
          this.length = 0;
        }
      }
    }
    return out;
  }

  /** Chunks everything still pending; the chunker is then done. */
  finish(): Chunk[] {
    if (this.finished) return [];
    const out: Chunk[] = [];
    this.flush(true, out);
    this.finished = true;
    return out;
  }

  /** Chunks `len` bytes at `ptr` (in the allocInput region, nothing pending) in place; keeps the undecided tail. */
  private pushInPlace(ptr: number, len: number, out: Chunk[]): void {
    const { w } = this;
    w.prepare(true);
    let done = 0;
    // A window of >= max bytes always cuts; the loop ends with < max bytes left.
    for (let d = 1; d > 0; done += d) d = w.chunksAt(ptr + done, Math.min(len - done, w.size), this.offset + done, false, out);
    this.pending.set(this.k.bytes.subarray(ptr + done, ptr + len));
    this.length = len - done;
    this.offset += done;
  }

  private flush(last: boolean, out: Chunk[]): void {
    if (this.length === 0) return;
    this.w.prepare();
    const done = this.w.chunks(this.pending.subarray(0, this.length), this.offset, last, out);
    this.pending.copyWithin(0, done, this.length);
    this.length -= done;
    this.offset += done;
  }
}
