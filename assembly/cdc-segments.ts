// FastCDC-2020 segment scan: the per-byte half of parallel chunking.
//
// A file split into segments is scanned by independent workers; a cheap
// sequential stitch (sdk/kernels/segments.ts) then picks the cut points and
// derives each chunk's CRC-32 from the records made here, so the result equals
// the sequential chunker's exactly.
//
// Why this is enough: every mask is below 2^48 and the gear hash is
// h = (h << 1) + GEAR[byte], so `h & mask` depends only on the last 48 bytes
// hashed. This scan runs the hash free (never restarted), warmed up on the 47
// bytes before the segment, so at every position it equals the reference's
// hash restarted at a cut, except in the first 47 positions after the restart
// (`cut + 2*floor(min/2)`), which the stitch rechecks from the bytes.
//
// Records, per segment (positions relative to its first byte):
// - candidates: positions where the hash passes the small or the large mask,
//   packed `position | passS << 30 | passL << 31` (segments < 1 GiB), and the
//   CRC-32 of the segment's bytes before each (its prefix CRC);
// - the prefix CRC at every multiple of `stride`, so a cut that is not a
//   candidate (a forced cut at max, or a pass inside the recheck window) costs
//   the stitch at most stride - 1 bytes of CRC, never a pass over the data.
import { crc32Raw, crc32Step16 } from './crc32';
import { GEAR, MASKS } from './fastcdc-tables';

let hash: u64 = 0;
let crc: u32 = ~0; // raw (inverted) CRC of the segment so far
let pos: u32 = 0; // segment position of the next byte scanned
let maskS: u64 = 0;
let maskL: u64 = 0;
let maskAny: u64 = 0; // bits in both masks: clear in any hash that passes either
let stride: u32 = 4096;
let strides: u32 = 0; // stride CRCs written by the last cdcSegmentScan

/** Address of the GEAR table (256 x u64), so the stitch can recheck restarted hashes. */
export function cdcSegmentGear(): usize {
  return GEAR;
}

/** Address of the MASKS table (26 x u64, MASKS[bits] at +bits*8). */
export function cdcSegmentMasks(): usize {
  return MASKS;
}

/**
 * Starts a segment: hash and CRC reset, masks MASKS[bitsS] (before avg) and
 * MASKS[bitsL] (after), prefix CRCs recorded every `everyBytes` bytes (> 0).
 */
export function cdcSegmentBegin(bitsS: i32, bitsL: i32, everyBytes: u32): void {
  maskS = load<u64>(MASKS + (<usize>bitsS << 3));
  maskL = load<u64>(MASKS + (<usize>bitsL << 3));
  maskAny = maskS & maskL;
  stride = everyBytes;
  hash = 0;
  crc = ~0;
  pos = 0;
}

/** Rolls the bytes just before the segment (its lookbehind, <= 47 used) into the hash, testing nothing. */
export function cdcSegmentWarm(ptr: usize, len: usize): void {
  let h = hash;
  for (let p = ptr, end = ptr + len; p < end; p++) h = (h << 1) + load<u64>(GEAR + (<usize>load<u8>(p) << 3));
  hash = h;
}

/**
 * Scans the next `len` bytes of the segment at `ptr` (a multiple of 16 bytes
 * except on the segment's last call). Writes candidates to `outPos` (packed
 * u32) and their prefix CRCs to `outCrc` (both need room for `len` entries: in
 * the worst case every position passes), and the prefix CRCs at stride
 * multiples to `outStride` (room for len / stride + 1). Returns the number of
 * candidates; cdcSegmentStrides() gives the number of stride CRCs.
 */
export function cdcSegmentScan(ptr: usize, len: usize, outPos: usize, outCrc: usize, outStride: usize): u32 {
  // Small averages (< 2 KiB at level 1) have masks sharing <= 3 bits: a
  // one-test prefilter would pass 1/8 of positions, so test both masks.
  return popcnt(maskAny) >= 10 ? scan<u64>(ptr, len, outPos, outCrc, outStride) : scan<u32>(ptr, len, outPos, outCrc, outStride);
}

// T = u64: one prefilter test per position (maskAny); T = u32: both masks.
// @ts-ignore: decorator
@inline function scan<T>(ptr: usize, len: usize, outPos: usize, outCrc: usize, outStride: usize): u32 {
  const end = ptr + len;
  const end16 = ptr + (len & ~15);
  const base = <usize>pos - ptr; // segment position of the byte at p is base + p
  const strideMask = <usize>stride - 1;
  posOut = outPos;
  crcOut = outCrc;
  count = 0;
  let h = hash;
  let c = crc;
  let s: u32 = 0;
  let p = ptr;
  // 16-byte blocks: one slicing-by-16 CRC step and 16 hash steps, unrolled
  // (V8 adds an interrupt check per loop iteration). A block where a position
  // may pass is rehashed exactly: ~16 steps per candidate, ~1% at avg 8 KiB.
  while (p < end16) {
    h = block<T>(h, c, p, base);
    c = crc32Step16(c, p);
    p += 16;
    if (((base + p) & strideMask) == 0) {
      store<u32>(outStride + (<usize>s << 2), ~c);
      s++;
    }
  }
  if (p < end) {
    // The segment's last < 16 bytes (never across a stride multiple: strides are multiples of 16).
    h = exact(h, c, p, end - p, base);
    c = crc32Raw(c, p, end - p);
  }
  crc = c;
  hash = h;
  pos += <u32>len;
  strides = s;
  return count;
}

// Where exact() records candidates, and how many this call has recorded.
let posOut: usize = 0;
let crcOut: usize = 0;
let count: u32 = 0;

// @ts-ignore: decorator
@inline function g(p: usize, k: usize): u64 {
  return load<u64>(GEAR + (<usize>load<u8>(p + k) << 3));
}

/** True when no mask can pass: the common case, one test and a predictable branch. */
// @ts-ignore: decorator
@inline function miss<T>(h: u64): bool {
  if (sizeof<T>() == 8) return (h & maskAny) != 0;
  return (h & maskS) != 0 && (h & maskL) != 0;
}

/** Hash after the 16 bytes at p; a possible pass hands the block to exact(). */
// @ts-ignore: decorator
@inline function block<T>(h: u64, c: u32, p: usize, base: usize): u64 {
  const h0 = h;
  // prettier-ignore
  {
    h = (h << 1) + g(p, 0); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 1); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 2); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 3); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 4); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 5); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 6); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 7); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 8); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 9); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 10); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 11); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 12); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 13); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 14); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
    h = (h << 1) + g(p, 15); if (!miss<T>(h)) return exact(h0, c, p, 16, base);
  }
  return h;
}

/**
 * Rehashes `len` bytes at `p` from hash `h`, recording the positions that pass
 * with their prefix CRCs (`c`: the raw CRC before p). Returns the hash after them.
 */
function exact(h: u64, c: u32, p: usize, len: usize, base: usize): u64 {
  let n = count;
  for (let j: usize = 0; j < len; j++) {
    h = (h << 1) + g(p, j);
    const flags = (u32((h & maskS) == 0) << 30) | (u32((h & maskL) == 0) << 31);
    if (flags) {
      store<u32>(posOut + (<usize>n << 2), <u32>(base + p + j) | flags);
      store<u32>(crcOut + (<usize>n << 2), ~crc32Raw(c, p, j));
      n++;
    }
  }
  count = n;
  return h;
}

/** Stride CRCs written by the last cdcSegmentScan call. */
export function cdcSegmentStrides(): u32 {
  return strides;
}

/** zlib-form CRC-32 of the segment's bytes scanned so far. */
export function cdcSegmentCrc(): u32 {
  return ~crc;
}
