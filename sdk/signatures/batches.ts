// The calling thread's part of the parallel CDC signature pass: speculative
// chunking with resynchronisation.
//
// Each worker runs the sequential chunker (chunk + CRC-32 + BLAKE3 in one
// pass over the bytes, ~1 GB/s per thread) on its segment as if a chunk began
// at the segment's first byte. Every cut inside a finite buffer is a cut of
// the infinite stream from the same start (only the buffer's final chunk ends
// because the input does), and a chunk's cut depends only on its start and
// the bytes: so once the file's true chunk stream has a cut at one of the
// segment's speculative cuts (or at the segment's first byte), every later
// speculative chunk of the segment is a true chunk, with its CRC and BLAKE3.
// Here, in file order, the true stream is continued from its open chunk with
// the same kernel over [open chunk start, ...) until it meets a speculative
// cut: on random data that is one or two chunks after the segment start
// (~10-30 KiB of ~8 MiB: < 1% of the bytes are chunked twice). Data that never
// resynchronises (long runs of zeros cut at max from different starts) is
// chunked again here, at sequential speed: never wrong, only slower.
import type { Kernels } from '../../core/kernels/api.js';

/** FastCDC-2020 parameters (the cdc ChunkingSpec without its kind). */
export interface CdcParams {
  min: number;
  avg: number;
  max: number;
  level: number;
}

/**
 * A worker's speculative chunks of one segment: chunked as if a chunk started
 * at `offset`. Resynchronising reads only the segment's first bytes (until
 * the true stream meets a speculative cut: on random data within a chunk or
 * two) and keeps its final chunk, so a worker that read the segment itself
 * sends back only `head` and `last`, not the segment.
 */
export interface SegmentChunks {
  /** File offset of the segment's first byte. */
  offset: number;
  /** The segment's length in bytes. */
  length: number;
  /** The segment's first bytes: all of them when it has at most one chunk, else at least RESYNC_HEAD(max) (or all). */
  head: Uint8Array;
  /** The segment's final speculative chunk (its last lengths[n - 1] bytes). */
  last: Uint8Array;
  lengths: Uint32Array;
  crcs: Uint32Array;
  /** 32 bytes per chunk. */
  hashes: Uint8Array;
  /** The whole segment, for the rare resynchronisation that runs past `head` (data that cuts at max from every start, e.g. zeros). */
  whole?: () => Promise<Uint8Array>;
}

/**
 * Bytes of a segment's head a worker sends back: the first window the
 * resynchronisation chunks is [segment start, + 2 x max) (see push), which
 * on random data holds ~16 chunks at the defaults; it meets a speculative cut
 * within the first one or two.
 */
export const RESYNC_HEAD = (max: number): number => 2 * max;

/** Chunks whose cuts, CRCs and BLAKE3s are final. */
export interface ChunkRecordsAt {
  /** File offset of the first chunk. */
  offset: number;
  lengths: Uint32Array;
  crcs: Uint32Array;
  hashes: Uint8Array;
}

/** Output of one push: pieces appended in file order, joined once. */
class BatchOutput {
  private lengths: Uint32Array[] = [];
  private crcs: Uint32Array[] = [];
  private hashes: Uint8Array[] = [];
  private count = 0;
  constructor(readonly offset: number) {}
  add(lengths: Uint32Array, crcs: Uint32Array, hashes: Uint8Array): void {
    if (!lengths.length) return;
    this.lengths.push(lengths);
    this.crcs.push(crcs);
    this.hashes.push(hashes);
    this.count += lengths.length;
  }
  done(): ChunkRecordsAt | null {
    if (!this.count) return null;
    return {
      offset: this.offset,
      lengths: join(this.lengths, this.count, (n) => new Uint32Array(n)),
      crcs: join(this.crcs, this.count, (n) => new Uint32Array(n)),
      hashes: join(this.hashes, this.count * 32, (n) => new Uint8Array(n)),
    };
  }
}

/**
 * Joins speculative segment chunks, pushed in file order, into exactly the
 * sequential chunker's chunks (k.chunk of the whole file).
 * @example const r = new CdcResync(k, spec); for (const seg of segments) send(await r.push(seg)); send(r.finish())
 */
export class CdcResync {
  /** Bytes [tailStart, tailStart + tailLength): the open chunk and any bytes not yet chunked. */
  private tail: Uint8Array;
  private tailStart = 0;
  private tailLength = 0;
  private next = 0;
  private readonly options: CdcParams;
  /** Bytes held without a speculative cut to meet before they are chunked here: bounds the tail (4 x max) and the cost (<= 1.33 passes per byte). */
  private readonly hold: number;

  constructor(
    private readonly k: Kernels,
    params: CdcParams,
  ) {
    this.options = { min: params.min, avg: params.avg, max: params.max, level: params.level };
    k.cutPoints(new Uint8Array(0), this.options); // checks the parameters (INVALID_ARGUMENT naming the limit)
    this.hold = 4 * params.max;
    this.tail = new Uint8Array(Math.min(this.hold, 1 << 16));
  }

  /** Bytes held for the open chunk (and not yet chunked). */
  get carried(): number {
    return this.tailLength;
  }

  /** The next segment's speculative chunks; resolves to the true chunks now final, or null. */
  async push(seg: SegmentChunks): Promise<ChunkRecordsAt | null> {
    if (seg.offset !== this.next) throw new Error(`deltaflare: segment at ${seg.offset}, expected ${this.next}`);
    const a = seg.offset,
      n = seg.lengths.length,
      length = seg.length;
    let B = seg.head;
    const more = async () => {
      const whole = seg.whole ? await seg.whole() : undefined;
      if (!whole || whole.length !== length) throw new Error(`deltaflare: segment at ${a} needs its ${length} bytes, got ${whole?.length ?? 'none'}`);
      B = whole;
    };
    this.next = a + length;
    const out = new BatchOutput(this.tailStart);
    if (n <= 1) {
      // No speculative cut inside: nothing to meet; chunk here once enough bytes are held.
      if (B.length < length) await more();
      this.append(B);
      if (this.tailLength >= this.hold) this.chunkTail(out, false);
      return out.done();
    }
    // Speculative cuts: a (the speculative start), then every chunk end but the last (the segment's end).
    let si = -1; // the cut at a is index -1; chunk i ends at specEnd(i)
    let specAt = a;
    const specNext = () => {
      specAt += seg.lengths[++si];
    };
    let c = this.tailStart; // the true open chunk's start
    let sync = c === a ? -1 : NaN; // in step at the segment's first byte
    let span = 2 * this.options.max;
    while (Number.isNaN(sync)) {
      const end = Math.min(a + length, Math.max(a, c) + span);
      if (end > a + B.length) await more();
      const w = this.bytesFrom(c, end, a, B);
      const cuts = this.k.cutPoints(w, this.options);
      const atEnd = end === a + length;
      // Interior cuts (all but the last, which is where w ends) are true cuts.
      let kept = 0;
      for (let i = 0; i < cuts.length - 1; i++) {
        const q = c + cuts[i];
        while (si < n - 2 && specAt < q) specNext();
        kept = i + 1;
        if (specAt === q && si < n - 1 && q >= a) {
          sync = si;
          break;
        }
      }
      if (kept) this.emit(out, w, cuts.subarray(0, kept));
      const cut = kept ? c + cuts[kept - 1] : c;
      if (!Number.isNaN(sync)) {
        c = cut;
        break;
      }
      if (atEnd) {
        // Chunked through the segment without meeting a speculative cut: keep [cut, end) as the tail.
        this.setTail(cut, w.subarray(cut - c));
        return out.done();
      }
      c = cut;
      span *= 2;
    }
    // In step from the speculative cut `sync` (-1: the segment start): chunks sync+1 .. n-2 are true.
    const from = sync + 1,
      to = n - 1;
    out.add(seg.lengths.subarray(from, to), seg.crcs.subarray(from, to), seg.hashes.subarray(from * 32, to * 32));
    const lastCut = a + length - seg.lengths[n - 1];
    if (seg.last.length !== a + length - lastCut)
      throw new Error(`deltaflare: segment at ${a}: final chunk of ${seg.lengths[n - 1]} bytes, got ${seg.last.length}`);
    this.setTail(lastCut, seg.last);
    return out.done();
  }

  /** Ends the file: every chunk of the bytes still held (the last one included), or null. */
  finish(): ChunkRecordsAt | null {
    const out = new BatchOutput(this.tailStart);
    this.chunkTail(out, true);
    return out.done();
  }

  /** Chunks the held bytes; keeps the final chunk unless `last`. */
  private chunkTail(out: BatchOutput, last: boolean): void {
    if (!this.tailLength) return;
    const w = this.tail.subarray(0, this.tailLength);
    const cuts = this.k.cutPoints(w, this.options);
    const kept = last ? cuts.length : cuts.length - 1;
    if (kept) this.emit(out, w, cuts.subarray(0, kept));
    const cut = kept ? cuts[kept - 1] : 0;
    this.tail.copyWithin(0, cut, this.tailLength);
    this.tailLength -= cut;
    this.tailStart += cut;
  }

  /** Adds chunks of `w` ending at `ends` (relative to w), from w's first byte: CRCs and BLAKE3s computed here. */
  private emit(out: BatchOutput, w: Uint8Array, ends: Uint32Array): void {
    const lengths = new Uint32Array(ends.length);
    const crcs = new Uint32Array(ends.length);
    for (let i = 0, s = 0; i < ends.length; s = ends[i++]) {
      lengths[i] = ends[i] - s;
      crcs[i] = this.k.crc32(w.subarray(s, ends[i]));
    }
    out.add(lengths, crcs, this.k.blake3Chunks(w, ends));
  }

  /** Bytes [from, to) of the file, where [a, a + B.length) is B and the tail holds what precedes a. */
  private bytesFrom(from: number, to: number, a: number, B: Uint8Array): Uint8Array {
    if (from >= a) return B.subarray(from - a, to - a);
    const head = this.tail.subarray(from - this.tailStart, this.tailLength);
    const w = new Uint8Array(head.length + (to - a));
    w.set(head);
    w.set(B.subarray(0, to - a), head.length);
    return w;
  }

  private setTail(start: number, bytes: Uint8Array): void {
    this.tailStart = start;
    this.tailLength = 0;
    this.append(bytes);
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

/** The parts one after another, in a new array of `n` elements made by `make`. */
function join<T extends Uint8Array | Uint32Array>(parts: T[], n: number, make: (n: number) => T): T {
  if (parts.length === 1) return parts[0].slice() as T;
  const out = make(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
