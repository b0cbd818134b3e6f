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
import { crc32Raw } from './crc32';
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
 * Scans the next `len` bytes of the segment at `ptr`. Writes candidates to
 * `outPos` (packed u32) and their prefix CRCs to `outCrc` (both need room for
 * `len` entries: in the worst case every position passes), and the prefix CRCs
 * at stride multiples to `outStride` (room for len / stride + 1). Returns the
 * number of candidates; cdcSegmentStrides() gives the number of stride CRCs.
 */
export function cdcSegmentScan(ptr: usize, len: usize, outPos: usize, outCrc: usize, outStride: usize): u32 {
  const end = ptr + len;
  const base = <usize>pos - ptr; // segment position of the byte at p is base + p
  let h = hash;
  let c = crc;
  let at = ptr; // bytes before `at` are in c
  let n: u32 = 0;
  let s: u32 = 0;
  let p = ptr;
  while (p < end) {
    const next = p + <usize>(stride - <u32>(base + p) % stride); // next stride multiple
    const stop = next < end ? next : end;
    for (; p < stop; p++) {
      h = (h << 1) + load<u64>(GEAR + (<usize>load<u8>(p) << 3));
      // Either mask passing needs maskAny's bits clear: one test per byte,
      // and the exact tests run at ~1/2^popcount(maskAny) of positions.
      if ((h & maskAny) == 0) {
        const flags = (u32((h & maskS) == 0) << 30) | (u32((h & maskL) == 0) << 31);
        if (flags) {
          c = crc32Raw(c, at, p - at);
          at = p;
          store<u32>(outPos + (<usize>n << 2), <u32>(base + p) | flags);
          store<u32>(outCrc + (<usize>n << 2), ~c);
          n++;
        }
      }
    }
    if (p == next) {
      c = crc32Raw(c, at, p - at);
      at = p;
      store<u32>(outStride + (<usize>s << 2), ~c);
      s++;
    }
  }
  crc = crc32Raw(c, at, end - at);
  hash = h;
  pos += <u32>len;
  strides = s;
  return n;
}

/** Stride CRCs written by the last cdcSegmentScan call. */
export function cdcSegmentStrides(): u32 {
  return strides;
}

/** zlib-form CRC-32 of the segment's bytes scanned so far. */
export function cdcSegmentCrc(): u32 {
  return ~crc;
}
