// Matching new chunks against the basis manifest. The server side
// (WeakIndex, matchBatch) finds old chunks with the same (CRC32, length) and
// answers runs of consecutive candidates; the client side (confirmMatches)
// keeps the candidates whose strong-hash prefix equals its own BLAKE3 digest.
import { WIRE_LIMITS } from '../base/limits.js';
import { DeltaflareError } from '../base/errors.js';
import { chunkOffsets, type Manifest } from './manifest.js';
import type { MatchRun, Matches, SignatureBatch } from './wire.js';

/** Old chunks with one CRC scanned per lookup: bounds the work for a file of identical blocks (all zeros). */
const SCAN_LIMIT = 64;

/**
 * The basis manifest's chunks sorted by CRC32 (a two-pass 16-bit radix sort,
 * O(n), 8 bytes per chunk: 2 MiB for 262,144 chunks, fine in a 128 MB isolate).
 */
export class WeakIndex {
  readonly offsets: Float64Array;
  private readonly order: Uint32Array;

  constructor(readonly manifest: Pick<Manifest, 'lengths' | 'crcs' | 'hashes'>) {
    const { crcs } = manifest;
    this.offsets = chunkOffsets(manifest);
    let order = new Uint32Array(crcs.length);
    let tmp = new Uint32Array(crcs.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    for (const shift of [0, 16]) {
      const counts = new Uint32Array(65537);
      for (let i = 0; i < order.length; i++) counts[((crcs[order[i]] >>> shift) & 0xffff) + 1]++;
      for (let d = 1; d < counts.length; d++) counts[d] += counts[d - 1];
      for (let i = 0; i < order.length; i++) tmp[counts[(crcs[order[i]] >>> shift) & 0xffff]++] = order[i];
      [order, tmp] = [tmp, order];
    }
    this.order = order;
  }

  /** Old chunk indices with this (crc, length), one per distinct BLAKE3 digest, at most WIRE_LIMITS.maxCandidates. */
  candidates(crc: number, length: number): number[] {
    const { crcs, lengths } = this.manifest;
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (crcs[this.order[mid]] < crc) lo = mid + 1;
      else hi = mid;
    }
    const out: number[] = [];
    for (let p = lo; p < this.order.length && p < lo + SCAN_LIMIT && crcs[this.order[p]] === crc; p++) {
      const j = this.order[p];
      if (lengths[j] !== length || out.some((k) => this.sameHash(k, j))) continue;
      out.push(j);
      if (out.length === WIRE_LIMITS.maxCandidates) break;
    }
    return out;
  }

  /** True when old chunks a and b have the same BLAKE3 digest. */
  sameHash(a: number, b: number): boolean {
    const h = this.manifest.hashes;
    for (let i = 0; i < 32; i++) if (h[a * 32 + i] !== h[b * 32 + i]) return false;
    return true;
  }
}

/**
 * The server's answer to a signature batch: runs of new chunks that may equal
 * consecutive old chunks. A run is extended while the next old chunk has the
 * next signature, so a file of unchanged 4 KiB blocks answers one 16-byte run
 * plus strongBytes per chunk.
 * @example encodeMatches(matchBatch(new WeakIndex(manifest), decodeSignatures(body), 8))
 */
export function matchBatch(index: WeakIndex, batch: SignatureBatch, strongBytes: number): Matches {
  const { crcs, lengths } = index.manifest;
  const n = batch.crcs.length;
  const runs: MatchRun[] = [];
  const firstOld: number[] = [];
  let open: Array<{ run: number; next: number }> = [];
  for (let e = 0; e < n; e++) {
    const crc = batch.crcs[e];
    const length = batch.lengths[e];
    const cands = index.candidates(crc, length);
    const used = cands.map(() => false);
    const next: typeof open = [];
    for (const o of open) {
      const j = o.next;
      if (j >= crcs.length || crcs[j] !== crc || lengths[j] !== length) continue;
      const g = cands.findIndex((c, k) => !used[k] && index.sameHash(c, j));
      if (g < 0) continue;
      used[g] = true;
      runs[o.run].length++;
      next.push({ run: o.run, next: j + 1 });
    }
    const fresh = cands.filter((_, k) => !used[k]).sort((a, b) => a - b);
    for (const j of fresh) {
      next.push({ run: runs.length, next: j + 1 });
      runs.push({ entry: e, length: 1, oldOffset: index.offsets[j] });
      firstOld.push(j);
    }
    open = next;
  }
  const total = runs.reduce((s, r) => s + r.length, 0);
  const hashes = new Uint8Array(total * strongBytes);
  let at = 0;
  runs.forEach((r, k) => {
    for (let c = 0; c < r.length; c++, at += strongBytes) {
      const j = firstOld[k] + c;
      hashes.set(index.manifest.hashes.subarray(j * 32, j * 32 + strongBytes), at);
    }
  });
  return { firstIndex: batch.firstIndex, count: n, strongBytes, runs, hashes };
}

/** What the client knows of its new chunks: lengths and BLAKE3 digests (32 bytes each). */
export interface NewChunks {
  lengths: Uint32Array;
  hashes: Uint8Array;
}

/**
 * Confirms a match answer: a candidate counts only when its strong-hash prefix
 * equals the new chunk's digest. Writes the chosen old offset of each new
 * chunk into `oldOffsets` (-1 = literal), preferring the candidate that
 * continues the previous chunk's copy so copies merge. Confirm batches in
 * index order for the best merging. Returns how many chunks were confirmed.
 * @example const oldOffsets = new Float64Array(n).fill(-1); confirmMatches(m, chunks, oldOffsets, basis.size)
 */
export function confirmMatches(m: Matches, chunks: NewChunks, oldOffsets: Float64Array, oldSize: number): number {
  const limit = WIRE_LIMITS.maxCandidates;
  if (m.firstIndex + m.count > chunks.lengths.length) {
    throw new DeltaflareError('MALFORMED', `matches: chunks ${m.firstIndex}..${m.firstIndex + m.count} beyond the ${chunks.lengths.length} sent`);
  }
  const cand = new Float64Array(m.count * limit);
  const count = new Uint8Array(m.count);
  let h = 0;
  for (const run of m.runs) {
    let old = run.oldOffset;
    for (let c = 0; c < run.length; c++, h += m.strongBytes) {
      const e = run.entry + c;
      const i = m.firstIndex + e;
      const len = chunks.lengths[i];
      if (old + len > oldSize) throw new DeltaflareError('MALFORMED', `matches: candidate at ${old} + ${len} is beyond the basis size ${oldSize}`);
      if (count[e] < limit && prefixEquals(m.hashes, h, chunks.hashes, i * 32, m.strongBytes)) cand[e * limit + count[e]++] = old;
      old += len;
    }
  }
  let confirmed = 0;
  for (let e = 0; e < m.count; e++) {
    const i = m.firstIndex + e;
    if (count[e] === 0) continue;
    const prev = i > 0 ? oldOffsets[i - 1] : -1;
    const follow = prev >= 0 ? prev + chunks.lengths[i - 1] : -1;
    let pick = cand[e * limit];
    for (let k = 1; k < count[e]; k++) if (cand[e * limit + k] === follow) pick = follow;
    oldOffsets[i] = pick;
    confirmed++;
  }
  return confirmed;
}

function prefixEquals(a: Uint8Array, at: number, b: Uint8Array, bt: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}
