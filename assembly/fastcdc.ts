// FastCDC-2020 (Xia et al.), cut points identical to the reference crate
// `fastcdc` v2020 (`cut()`), plus a fused pass that also CRCs each chunk.
//
// Semantics (the reference's, per chunk starting at a cut, `r` bytes left):
// r <= min: the rest is one chunk. Else center = avg; r > max: r = max,
// else r < avg: center = r. From i = 2*floor(min/2): h = (h << 1) + GEAR[b[i]],
// cut before byte i when (h & maskS) == 0, until i = 2*floor(center/2); then
// with maskL until 2*floor(r/2); else the chunk is r bytes. (The reference
// rolls two bytes per step and tests the first with the masks shifted left
// by one: the same as testing the one-byte hash at every position.)
//
// Speed notes, measured on Zen 4 under V8 (Node 20), 1 byte = 1 cycle:
// - The per-byte cost is two loads (the byte, then GEAR[b]), and Zen 4 retires
//   ~2 loads/cycle here, so loads bound the loop, not the hash chain:
//   `(h << 1) + g` compiles to one 1-cycle `lea`. Rolling two bytes per step
//   with the chain reassociated (the paper's GEAR_LS trick) measured the same
//   1.0-1.2 cycles/byte, so the simpler one-byte step stays.
// - `b << 3` (the table offset) costs an ALU op per byte; the SIMD build
//   computes 16 of them with two vector shifts, 32 bytes ahead of use (when
//   stored and reloaded at once, store-forwarding stalls made it slower).
// - Loops are unrolled 16x: V8 adds an interrupt check per loop iteration.
// - Fused CRC: no faster than cutting, then CRCing each chunk from cache
//   (1335 vs 1354 MB/s, 256 MiB): both halves are bound by the same load
//   ports (slicing-by-16 does >= 1 table load per byte), so fusing saves the
//   second read of the bytes, not the loads. Kept fused for one cache pass.

import { GEAR, MASKS, MIN_LO, MIN_HI, AVG_LO, AVG_HI, MAX_LO, MAX_HI } from './fastcdc-tables';
import { crc32Raw, crc32Step16 } from './crc32';

// Parameters set by fastcdcConfig.
let minSize: u32 = 2048;
let avgSize: u32 = 8192;
let maxSize: u32 = 65536;
let maskS: u64 = 0x0000d90313530000; // MASKS[13 + 1]
let maskL: u64 = 0x0000d90103530000; // MASKS[13 - 1]

// CRC-32 of the chunk the last `cut<true>` returned (zlib convention).
let lastCrc: u32 = 0;

// The SIMD build's table offsets (b << 3, u16) for 4 blocks of 16 bytes: the
// block being scanned, and the next ones, prepared ahead.
const RING = memory.data(4 * 32, 64);

/**
 * Sets the chunking parameters (the wrapper has checked them against the
 * reference's limits and avg <= max). Masks as the reference:
 * bits = round(log2(avg)), maskS = MASKS[bits + level], maskL = MASKS[bits - level].
 */
export function fastcdcConfig(min: u32, avg: u32, max: u32, level: u32): void {
  if (min < MIN_LO || min > MIN_HI || avg < AVG_LO || avg > AVG_HI || max < MAX_LO || max > MAX_HI || avg > max || level > 3) {
    unreachable();
  }
  // round(log2(avg)) without floats: bits + 1 when avg >= 2^(bits + 0.5), i.e. avg^2 >= 2^(2*bits + 1).
  let bits: u32 = 31 - clz(avg);
  if (<u64>avg * avg >= (<u64>1 << (2 * bits + 1))) bits++;
  minSize = min;
  avgSize = avg;
  maxSize = max;
  maskS = load<u64>(MASKS + (<usize>(bits + level) << 3));
  maskL = load<u64>(MASKS + (<usize>(bits - level) << 3));
}

// @ts-ignore: decorator
@inline function prep(q: usize, slot: usize): void {
  const v = v128.load(q);
  v128.store(RING + (slot << 5), i16x8.shl(i16x8.extend_low_i8x16_u(v), 3));
  v128.store(RING + (slot << 5), i16x8.shl(i16x8.extend_high_i8x16_u(v), 3), 16);
}

/** GEAR[b] for byte k of the 16-byte block at q (its offset prepared in `slot` on SIMD builds). */
// @ts-ignore: decorator
@inline function gear(q: usize, slot: usize, k: usize): u64 {
  if (ASC_FEATURE_SIMD) return load<u64>(<usize>load<u16>(slot + (k << 1)), GEAR);
  return load<u64>(<usize>load<u8>(q + k) << 3, GEAR);
}

/**
 * Length of the chunk at `p` with `r` bytes left (r >= 1). With T = u32 (T = u8: cut
 * points only) also sets `lastCrc` to the chunk's CRC-32, computed in the same pass:
 * 16 bytes of CRC (slicing-by-16) per 16 gear steps; bytes below min are
 * only CRC'd. Reads up to 48 bytes past p + r on SIMD builds (values unused).
 */
// @ts-ignore: decorator
@inline function cut<T>(p: usize, r: u32): u32 {
  const CRC: bool = sizeof<T>() == 4;
  if (r <= minSize) {
    if (CRC) lastCrc = ~crc32Raw(~0, p, r);
    return r;
  }
  let center = avgSize;
  if (r > maxSize) r = maxSize;
  else if (r < center) center = r;
  // min > max is within the reference's limits: no byte is hashed, chunks are max long.
  const first = min(minSize, r) & ~1;
  let q = p + first;
  let e = p + (center & ~1);
  const end = p + (r & ~1);
  let m = maskS;
  let h: u64 = 0;
  let crc: u32 = CRC ? crc32Raw(~0, p, first) : 0;
  for (;;) {
    if (ASC_FEATURE_SIMD) {
      prep(q, 0);
      prep(q + 16, 1);
    }
    let s: usize = 0;
    while (q + 16 <= e) {
      if (ASC_FEATURE_SIMD) prep(q + 32, (s + 2) & 3);
      const slot = RING + (s << 5);
      // prettier-ignore
      {
        h = (h << 1) + gear(q, slot, 0); if ((h & m) == 0) return found<T>(p, q, 0, crc);
        h = (h << 1) + gear(q, slot, 1); if ((h & m) == 0) return found<T>(p, q, 1, crc);
        h = (h << 1) + gear(q, slot, 2); if ((h & m) == 0) return found<T>(p, q, 2, crc);
        h = (h << 1) + gear(q, slot, 3); if ((h & m) == 0) return found<T>(p, q, 3, crc);
        h = (h << 1) + gear(q, slot, 4); if ((h & m) == 0) return found<T>(p, q, 4, crc);
        h = (h << 1) + gear(q, slot, 5); if ((h & m) == 0) return found<T>(p, q, 5, crc);
        h = (h << 1) + gear(q, slot, 6); if ((h & m) == 0) return found<T>(p, q, 6, crc);
        h = (h << 1) + gear(q, slot, 7); if ((h & m) == 0) return found<T>(p, q, 7, crc);
        h = (h << 1) + gear(q, slot, 8); if ((h & m) == 0) return found<T>(p, q, 8, crc);
        h = (h << 1) + gear(q, slot, 9); if ((h & m) == 0) return found<T>(p, q, 9, crc);
        h = (h << 1) + gear(q, slot, 10); if ((h & m) == 0) return found<T>(p, q, 10, crc);
        h = (h << 1) + gear(q, slot, 11); if ((h & m) == 0) return found<T>(p, q, 11, crc);
        h = (h << 1) + gear(q, slot, 12); if ((h & m) == 0) return found<T>(p, q, 12, crc);
        h = (h << 1) + gear(q, slot, 13); if ((h & m) == 0) return found<T>(p, q, 13, crc);
        h = (h << 1) + gear(q, slot, 14); if ((h & m) == 0) return found<T>(p, q, 14, crc);
        h = (h << 1) + gear(q, slot, 15); if ((h & m) == 0) return found<T>(p, q, 15, crc);
      }
      // The CRC step goes after the gear steps: V8 schedules its XORs late
      // (at the back edge), so placed first, its 16 table values stayed live
      // across the gear steps and were spilled to the stack.
      if (CRC) crc = crc32Step16(crc, q);
      q += 16;
      s = (s + 1) & 3;
    }
    // Fewer than 16 bytes left in this phase: one byte at a time.
    const tail = q;
    while (q < e) {
      h = (h << 1) + load<u64>(<usize>load<u8>(q) << 3, GEAR);
      if ((h & m) == 0) return found<T>(p, tail, q - tail, crc);
      q++;
    }
    if (CRC) crc = crc32Raw(crc, tail, q - tail);
    if (e == end) break;
    e = end;
    m = maskL;
  }
  if (CRC) lastCrc = ~crc32Raw(crc, q, p + r - q); // the odd last byte, if any
  return r;
}

/** A cut before byte q + k: the chunk is [p, q + k); `crc` covers [p, q). */
// @ts-ignore: decorator
@inline function found<T>(p: usize, q: usize, k: usize, crc: u32): u32 {
  const CRC: bool = sizeof<T>() == 4;
  if (CRC) lastCrc = ~crc32Raw(crc, q, k);
  return <u32>(q + k - p);
}

// @ts-ignore: decorator
@inline function scan<T>(ptr: usize, len: u32, last: bool, endsPtr: usize, crcsPtr: usize, cap: u32): u32 {
  const CRC: bool = sizeof<T>() == 4;
  let n: u32 = 0;
  let at: u32 = 0;
  while (n < cap && at < len) {
    const left = len - at;
    if (!last && left < maxSize) break; // the cut could depend on bytes not given yet
    at += cut<T>(ptr + at, left);
    store<u32>(endsPtr + (<usize>n << 2), at);
    if (CRC) store<u32>(crcsPtr + (<usize>n << 2), lastCrc);
    n++;
  }
  return n;
}

/**
 * Cut points of the `len` bytes at `ptr`, which start at a cut: writes up to
 * `cap` chunk ends (u32 offsets from ptr) at `endsPtr`, returns how many.
 * Unless `last`, stops before a chunk whose cut could depend on bytes past
 * len (fewer than max bytes left), so the caller carries those over.
 * Memory must extend 64 bytes past ptr + len (read ahead, values unused).
 */
export function fastcdcCuts(ptr: usize, len: u32, last: bool, endsPtr: usize, cap: u32): u32 {
  return scan<u8>(ptr, len, last, endsPtr, 0, cap);
}

/** As fastcdcCuts, and writes each chunk's CRC-32 (u32) at `crcsPtr`, computed in the same pass. */
export function fastcdcChunks(ptr: usize, len: u32, last: bool, endsPtr: usize, crcsPtr: usize, cap: u32): u32 {
  return scan<u32>(ptr, len, last, endsPtr, crcsPtr, cap);
}
