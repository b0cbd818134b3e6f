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
// Each scanned byte costs 4 ops (its table offset, GEAR[b], `(h << 1) + g`,
// one test-and-branch) and the loop is bound by that count: ~3.3-3.8 GB/s on
// Zen 4 under V8. docs/kernels.md has the design and what was measured.

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

/** Block of bytes per loop iteration. */
const BLOCK = 32;
// The SIMD build's table offsets (b << 3, u16) for two blocks: the one being
// scanned, and the next, prepared one block ahead (prepared and reloaded at
// once, store-forwarding stalls made it slower).
const RING = memory.data(2 * 2 * BLOCK, 64);
const SIMD = ASC_FEATURE_SIMD;

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

// The fused pass's CRC tables, indexed by the prepared gear offsets (b << 3):
// crc32.ts's slicing-by-16 tables interleaved in pairs, table k's entry for
// byte b at CRCI + (k >> 1) * 2048 + b * 8 + (k & 1) * 4 (16 KiB). Recipe:
// table k at b = the raw CRC, from state 0, of byte b followed by k zero bytes.
const CRCI = memory.data(16 * 256 * 4, 64);
const CRC_INPUT = memory.data(16, 16); // byte b, then zeros
if (SIMD) {
  for (let k: usize = 0; k < 16; k++) {
    for (let b: usize = 0; b < 256; b++) {
      store<u8>(CRC_INPUT, <u8>b);
      store<u32>(CRCI + ((k >> 1) << 11) + (b << 3) + ((k & 1) << 2), crc32Raw(0, CRC_INPUT, k + 1));
    }
  }
}
const SINK = memory.data(4, 4);

/**
 * crc32Step16 for the 16 bytes at q whose gear offsets are at `ring`: the 12
 * lookups that do not depend on the state take the prepared offsets, saving
 * the byte load's shift (12 ops per 16 bytes, +3% on the fused pass). The two SINK stores keep V8
 * from hoisting all 16 loads (see crc32Step16).
 */
// @ts-ignore: decorator
@inline function crcRing16(state: u32, q: usize, ring: usize): u32 {
  const w0 = state ^ load<u32>(q);
  let x = load<u32>(<usize>load<u16>(ring, 8), CRCI + 5 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 10), CRCI + 5 * 2048);
  x ^= load<u32>(<usize>load<u16>(ring, 12), CRCI + 4 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 14), CRCI + 4 * 2048);
  store<u32>(SINK, x);
  x ^= load<u32>(<usize>load<u16>(ring, 16), CRCI + 3 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 18), CRCI + 3 * 2048);
  x ^= load<u32>(<usize>load<u16>(ring, 20), CRCI + 2 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 22), CRCI + 2 * 2048);
  store<u32>(SINK, x);
  x ^= load<u32>(<usize>load<u16>(ring, 24), CRCI + 1 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 26), CRCI + 1 * 2048);
  x ^= load<u32>(<usize>load<u16>(ring, 28), CRCI + 0 * 2048 + 4);
  x ^= load<u32>(<usize>load<u16>(ring, 30), CRCI + 0 * 2048);
  const a = load<u32>(<usize>((w0 << 3) & 0x7f8), CRCI + 7 * 2048 + 4) ^ load<u32>(<usize>((w0 >>> 5) & 0x7f8), CRCI + 7 * 2048);
  const b = load<u32>(<usize>((w0 >>> 13) & 0x7f8), CRCI + 6 * 2048 + 4) ^ load<u32>(<usize>((w0 >>> 21) & 0x7f8), CRCI + 6 * 2048);
  return x ^ (a ^ b);
}

/** Writes the table offsets of the BLOCK bytes at q to `ring` (SIMD builds). */
// @ts-ignore: decorator
@inline function prep(q: usize, ring: usize): void {
  const a = v128.load(q);
  v128.store(ring, i16x8.shl(i16x8.extend_low_i8x16_u(a), 3));
  v128.store(ring, i16x8.shl(i16x8.extend_high_i8x16_u(a), 3), 16);
  const b = v128.load(q, 16);
  v128.store(ring, i16x8.shl(i16x8.extend_low_i8x16_u(b), 3), 32);
  v128.store(ring, i16x8.shl(i16x8.extend_high_i8x16_u(b), 3), 48);
}

/**
 * GEAR entry for `v`: a prepared offset on SIMD builds, a byte on scalar ones.
 * Call as G(SIMD ? load<u16>(ring, 2k) : load<u8>(q, k)) with literal offsets.
 */
// @ts-ignore: decorator
@inline function G(v: u32): u64 {
  if (SIMD) return load<u64>(<usize>v, GEAR);
  return load<u64>(<usize>v << 3, GEAR);
}

/**
 * Length of the chunk at `p` with `r` bytes left (r >= 1). With T = u32 (T = u8: cut
 * points only) also sets `lastCrc` to the chunk's CRC-32, computed in the same pass:
 * 16 bytes of CRC (slicing-by-16) per 16 gear steps; bytes below min are
 * only CRC'd. Reads up to BLOCK bytes past p + r on SIMD builds (values unused).
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
  let a: u64, b: u64, h1: u64; // the fused pass's two-byte steps
  for (;;) {
    let cur = RING, next = RING + 2 * BLOCK;
    if (SIMD) prep(q, cur);
    while (q + BLOCK <= e) {
      if (SIMD) prep(q + BLOCK, next);
      // prettier-ignore
      if (CRC) {
        a = G(SIMD ? load<u16>(cur, 0) : load<u8>(q, 0)); b = G(SIMD ? load<u16>(cur, 2) : load<u8>(q, 1));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 0, crc); if ((h & m) == 0) return found<T>(p, q, 1, crc);
        a = G(SIMD ? load<u16>(cur, 4) : load<u8>(q, 2)); b = G(SIMD ? load<u16>(cur, 6) : load<u8>(q, 3));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 2, crc); if ((h & m) == 0) return found<T>(p, q, 3, crc);
        a = G(SIMD ? load<u16>(cur, 8) : load<u8>(q, 4)); b = G(SIMD ? load<u16>(cur, 10) : load<u8>(q, 5));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 4, crc); if ((h & m) == 0) return found<T>(p, q, 5, crc);
        a = G(SIMD ? load<u16>(cur, 12) : load<u8>(q, 6)); b = G(SIMD ? load<u16>(cur, 14) : load<u8>(q, 7));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 6, crc); if ((h & m) == 0) return found<T>(p, q, 7, crc);
        a = G(SIMD ? load<u16>(cur, 16) : load<u8>(q, 8)); b = G(SIMD ? load<u16>(cur, 18) : load<u8>(q, 9));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 8, crc); if ((h & m) == 0) return found<T>(p, q, 9, crc);
        a = G(SIMD ? load<u16>(cur, 20) : load<u8>(q, 10)); b = G(SIMD ? load<u16>(cur, 22) : load<u8>(q, 11));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 10, crc); if ((h & m) == 0) return found<T>(p, q, 11, crc);
        a = G(SIMD ? load<u16>(cur, 24) : load<u8>(q, 12)); b = G(SIMD ? load<u16>(cur, 26) : load<u8>(q, 13));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 12, crc); if ((h & m) == 0) return found<T>(p, q, 13, crc);
        a = G(SIMD ? load<u16>(cur, 28) : load<u8>(q, 14)); b = G(SIMD ? load<u16>(cur, 30) : load<u8>(q, 15));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 14, crc); if ((h & m) == 0) return found<T>(p, q, 15, crc);
        a = G(SIMD ? load<u16>(cur, 32) : load<u8>(q, 16)); b = G(SIMD ? load<u16>(cur, 34) : load<u8>(q, 17));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 16, crc); if ((h & m) == 0) return found<T>(p, q, 17, crc);
        a = G(SIMD ? load<u16>(cur, 36) : load<u8>(q, 18)); b = G(SIMD ? load<u16>(cur, 38) : load<u8>(q, 19));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 18, crc); if ((h & m) == 0) return found<T>(p, q, 19, crc);
        a = G(SIMD ? load<u16>(cur, 40) : load<u8>(q, 20)); b = G(SIMD ? load<u16>(cur, 42) : load<u8>(q, 21));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 20, crc); if ((h & m) == 0) return found<T>(p, q, 21, crc);
        a = G(SIMD ? load<u16>(cur, 44) : load<u8>(q, 22)); b = G(SIMD ? load<u16>(cur, 46) : load<u8>(q, 23));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 22, crc); if ((h & m) == 0) return found<T>(p, q, 23, crc);
        a = G(SIMD ? load<u16>(cur, 48) : load<u8>(q, 24)); b = G(SIMD ? load<u16>(cur, 50) : load<u8>(q, 25));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 24, crc); if ((h & m) == 0) return found<T>(p, q, 25, crc);
        a = G(SIMD ? load<u16>(cur, 52) : load<u8>(q, 26)); b = G(SIMD ? load<u16>(cur, 54) : load<u8>(q, 27));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 26, crc); if ((h & m) == 0) return found<T>(p, q, 27, crc);
        a = G(SIMD ? load<u16>(cur, 56) : load<u8>(q, 28)); b = G(SIMD ? load<u16>(cur, 58) : load<u8>(q, 29));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 28, crc); if ((h & m) == 0) return found<T>(p, q, 29, crc);
        a = G(SIMD ? load<u16>(cur, 60) : load<u8>(q, 30)); b = G(SIMD ? load<u16>(cur, 62) : load<u8>(q, 31));
        h1 = (h << 1) + a; h = (h << 2) + ((a << 1) + b);
        if ((h1 & m) == 0) return found<T>(p, q, 30, crc); if ((h & m) == 0) return found<T>(p, q, 31, crc);
      } else {
        h = (h << 1) + G(SIMD ? load<u16>(cur, 0) : load<u8>(q, 0)); if ((h & m) == 0) return found<T>(p, q, 0, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 2) : load<u8>(q, 1)); if ((h & m) == 0) return found<T>(p, q, 1, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 4) : load<u8>(q, 2)); if ((h & m) == 0) return found<T>(p, q, 2, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 6) : load<u8>(q, 3)); if ((h & m) == 0) return found<T>(p, q, 3, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 8) : load<u8>(q, 4)); if ((h & m) == 0) return found<T>(p, q, 4, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 10) : load<u8>(q, 5)); if ((h & m) == 0) return found<T>(p, q, 5, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 12) : load<u8>(q, 6)); if ((h & m) == 0) return found<T>(p, q, 6, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 14) : load<u8>(q, 7)); if ((h & m) == 0) return found<T>(p, q, 7, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 16) : load<u8>(q, 8)); if ((h & m) == 0) return found<T>(p, q, 8, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 18) : load<u8>(q, 9)); if ((h & m) == 0) return found<T>(p, q, 9, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 20) : load<u8>(q, 10)); if ((h & m) == 0) return found<T>(p, q, 10, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 22) : load<u8>(q, 11)); if ((h & m) == 0) return found<T>(p, q, 11, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 24) : load<u8>(q, 12)); if ((h & m) == 0) return found<T>(p, q, 12, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 26) : load<u8>(q, 13)); if ((h & m) == 0) return found<T>(p, q, 13, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 28) : load<u8>(q, 14)); if ((h & m) == 0) return found<T>(p, q, 14, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 30) : load<u8>(q, 15)); if ((h & m) == 0) return found<T>(p, q, 15, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 32) : load<u8>(q, 16)); if ((h & m) == 0) return found<T>(p, q, 16, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 34) : load<u8>(q, 17)); if ((h & m) == 0) return found<T>(p, q, 17, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 36) : load<u8>(q, 18)); if ((h & m) == 0) return found<T>(p, q, 18, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 38) : load<u8>(q, 19)); if ((h & m) == 0) return found<T>(p, q, 19, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 40) : load<u8>(q, 20)); if ((h & m) == 0) return found<T>(p, q, 20, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 42) : load<u8>(q, 21)); if ((h & m) == 0) return found<T>(p, q, 21, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 44) : load<u8>(q, 22)); if ((h & m) == 0) return found<T>(p, q, 22, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 46) : load<u8>(q, 23)); if ((h & m) == 0) return found<T>(p, q, 23, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 48) : load<u8>(q, 24)); if ((h & m) == 0) return found<T>(p, q, 24, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 50) : load<u8>(q, 25)); if ((h & m) == 0) return found<T>(p, q, 25, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 52) : load<u8>(q, 26)); if ((h & m) == 0) return found<T>(p, q, 26, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 54) : load<u8>(q, 27)); if ((h & m) == 0) return found<T>(p, q, 27, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 56) : load<u8>(q, 28)); if ((h & m) == 0) return found<T>(p, q, 28, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 58) : load<u8>(q, 29)); if ((h & m) == 0) return found<T>(p, q, 29, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 60) : load<u8>(q, 30)); if ((h & m) == 0) return found<T>(p, q, 30, crc);
        h = (h << 1) + G(SIMD ? load<u16>(cur, 62) : load<u8>(q, 31)); if ((h & m) == 0) return found<T>(p, q, 31, crc);
      }
      // The CRC steps go after the gear steps: V8 schedules their XORs late
      // (at the back edge), so placed first, their table values stayed live
      // across the gear steps and were spilled to the stack.
      if (CRC && SIMD) {
        crc = crcRing16(crc, q, cur);
        crc = crcRing16(crc, q + 16, cur + 32);
      } else if (CRC) {
        crc = crc32Step16(crc, q);
        crc = crc32Step16(crc, q + 16);
      }
      q += BLOCK;
      const t = cur;
      cur = next;
      next = t;
    }
    // Fewer than BLOCK bytes left in this phase: one byte at a time.
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
