// BLAKE3 portable backend: one compression at a time on 32-bit words.
// Used for everything in the scalar build, and in the SIMD build for the few
// compressions that cannot be batched (merges of the incremental CV stack,
// the final fold). Same lane-descriptor interface as blake3-simd.ts, so
// blake3.ts drives both the same way and the results are identical.
import { LANE_STRIDE } from './blake3-lanes';

/** BLAKE3 IV (= SHA-256 IV), also the key of every node in hash mode. */
export const IV0: u32 = 0x6a09e667;
export const IV1: u32 = 0xbb67ae85;
export const IV2: u32 = 0x3c6ef372;
export const IV3: u32 = 0xa54ff53a;
export const IV4: u32 = 0x510e527f;
export const IV5: u32 = 0x9b05688c;
export const IV6: u32 = 0x1f83d9ab;
export const IV7: u32 = 0x5be0cd19;

/** Working chaining value of scalar jobs (kept apart from the output, which may overlap the message). */
const CV1 = memory.data(32, 16);

/** Sets the 8 words at `cv` to the IV. */
export function setIV(cv: usize): void {
  store<u32>(cv, IV0, 0);
  store<u32>(cv, IV1, 4);
  store<u32>(cv, IV2, 8);
  store<u32>(cv, IV3, 12);
  store<u32>(cv, IV4, 16);
  store<u32>(cv, IV5, 20);
  store<u32>(cv, IV6, 24);
  store<u32>(cv, IV7, 28);
}

/**
 * The BLAKE3 compression function, truncated to the 8-word chaining value:
 * cv (8 words at `cv`, updated in place) absorbs the 64-byte block at `m`.
 * The 7 rounds are written out with the message schedule applied (row r is
 * the permutation [2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8] applied r times).
 */
export function compress(cv: usize, m: usize, ctrLo: u32, ctrHi: u32, blockLen: u32, flags: u32): void {
  let v0 = load<u32>(cv, 0), v1 = load<u32>(cv, 4), v2 = load<u32>(cv, 8), v3 = load<u32>(cv, 12);
  let v4 = load<u32>(cv, 16), v5 = load<u32>(cv, 20), v6 = load<u32>(cv, 24), v7 = load<u32>(cv, 28);
  let v8 = IV0, v9 = IV1, v10 = IV2, v11 = IV3;
  let v12 = ctrLo, v13 = ctrHi, v14 = blockLen, v15 = flags;
  const m0 = load<u32>(m, 0), m1 = load<u32>(m, 4), m2 = load<u32>(m, 8), m3 = load<u32>(m, 12);
  const m4 = load<u32>(m, 16), m5 = load<u32>(m, 20), m6 = load<u32>(m, 24), m7 = load<u32>(m, 28);
  const m8 = load<u32>(m, 32), m9 = load<u32>(m, 36), m10 = load<u32>(m, 40), m11 = load<u32>(m, 44);
  const m12 = load<u32>(m, 48), m13 = load<u32>(m, 52), m14 = load<u32>(m, 56), m15 = load<u32>(m, 60);
  // round 0: message words 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
  v0 += v4 + m0; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m1; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m2; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m3; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m4; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m5; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m6; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m7; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m8; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m9; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m10; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m11; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m12; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m13; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m14; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m15; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 1: message words 2 6 3 10 7 0 4 13 1 11 12 5 9 14 15 8
  v0 += v4 + m2; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m6; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m3; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m10; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m7; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m0; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m4; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m13; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m1; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m11; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m12; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m5; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m9; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m14; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m15; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m8; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 2: message words 3 4 10 12 13 2 7 14 6 5 9 0 11 15 8 1
  v0 += v4 + m3; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m4; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m10; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m12; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m13; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m2; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m7; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m14; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m6; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m5; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m9; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m0; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m11; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m15; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m8; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m1; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 3: message words 10 7 12 9 14 3 13 15 4 0 11 2 5 8 1 6
  v0 += v4 + m10; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m7; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m12; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m9; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m14; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m3; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m13; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m15; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m4; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m0; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m11; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m2; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m5; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m8; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m1; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m6; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 4: message words 12 13 9 11 15 10 14 8 7 2 5 3 0 1 6 4
  v0 += v4 + m12; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m13; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m9; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m11; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m15; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m10; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m14; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m8; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m7; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m2; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m5; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m3; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m0; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m1; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m6; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m4; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 5: message words 9 14 11 5 8 12 15 1 13 3 0 10 2 6 4 7
  v0 += v4 + m9; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m14; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m11; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m5; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m8; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m12; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m15; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m1; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m13; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m3; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m0; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m10; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m2; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m6; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m4; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m7; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  // round 6: message words 11 15 5 0 1 9 8 6 14 10 2 12 3 4 7 13
  v0 += v4 + m11; v12 = rotr(v12 ^ v0, 16); v8 += v12; v4 = rotr(v4 ^ v8, 12);
  v0 += v4 + m15; v12 = rotr(v12 ^ v0, 8); v8 += v12; v4 = rotr(v4 ^ v8, 7);
  v1 += v5 + m5; v13 = rotr(v13 ^ v1, 16); v9 += v13; v5 = rotr(v5 ^ v9, 12);
  v1 += v5 + m0; v13 = rotr(v13 ^ v1, 8); v9 += v13; v5 = rotr(v5 ^ v9, 7);
  v2 += v6 + m1; v14 = rotr(v14 ^ v2, 16); v10 += v14; v6 = rotr(v6 ^ v10, 12);
  v2 += v6 + m9; v14 = rotr(v14 ^ v2, 8); v10 += v14; v6 = rotr(v6 ^ v10, 7);
  v3 += v7 + m8; v15 = rotr(v15 ^ v3, 16); v11 += v15; v7 = rotr(v7 ^ v11, 12);
  v3 += v7 + m6; v15 = rotr(v15 ^ v3, 8); v11 += v15; v7 = rotr(v7 ^ v11, 7);
  v0 += v5 + m14; v15 = rotr(v15 ^ v0, 16); v10 += v15; v5 = rotr(v5 ^ v10, 12);
  v0 += v5 + m10; v15 = rotr(v15 ^ v0, 8); v10 += v15; v5 = rotr(v5 ^ v10, 7);
  v1 += v6 + m2; v12 = rotr(v12 ^ v1, 16); v11 += v12; v6 = rotr(v6 ^ v11, 12);
  v1 += v6 + m12; v12 = rotr(v12 ^ v1, 8); v11 += v12; v6 = rotr(v6 ^ v11, 7);
  v2 += v7 + m3; v13 = rotr(v13 ^ v2, 16); v8 += v13; v7 = rotr(v7 ^ v8, 12);
  v2 += v7 + m4; v13 = rotr(v13 ^ v2, 8); v8 += v13; v7 = rotr(v7 ^ v8, 7);
  v3 += v4 + m7; v14 = rotr(v14 ^ v3, 16); v9 += v14; v4 = rotr(v4 ^ v9, 12);
  v3 += v4 + m13; v14 = rotr(v14 ^ v3, 8); v9 += v14; v4 = rotr(v4 ^ v9, 7);
  store<u32>(cv, v0 ^ v8, 0);
  store<u32>(cv, v1 ^ v9, 4);
  store<u32>(cv, v2 ^ v10, 8);
  store<u32>(cv, v3 ^ v11, 12);
  store<u32>(cv, v4 ^ v12, 16);
  store<u32>(cv, v5 ^ v13, 20);
  store<u32>(cv, v6 ^ v14, 24);
  store<u32>(cv, v7 ^ v15, 28);
}

/** Scalar form of runChunks4: the first `lanes` full-chunk descriptors, one after another. */
export function runChunksScalar(lanes: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const d = lanes + <usize>i * LANE_STRIDE;
    const p = load<u32>(d, 0);
    const ctr = load<u64>(d, 16);
    setIV(CV1);
    for (let b: u32 = 0; b < 16; b++) {
      const flags: u32 = b == 0 ? 1 : b == 15 ? 2 : 0;
      compress(CV1, p + (b << 6), <u32>ctr, <u32>(ctr >>> 32), 64, flags);
    }
    memory.copy(load<u32>(d, 36), CV1, 32);
  }
}

/** Scalar form of runBlocks4: the first `count` job descriptors, one after another. */
export function runBlocksScalar(lanes: usize, count: i32): void {
  for (let i = 0; i < count; i++) {
    const d = lanes + <usize>i * LANE_STRIDE;
    const p = load<u32>(d, 0), lastPtr = load<u32>(d, 4), n = load<u32>(d, 8), lastLen = load<u32>(d, 12);
    const ctr = load<u64>(d, 16);
    const startF = load<u32>(d, 24), endF = load<u32>(d, 28), allF = load<u32>(d, 32);
    setIV(CV1);
    for (let b: u32 = 0; b < n; b++) {
      const last = b == n - 1;
      const flags = allF | (b == 0 ? startF : 0) | (last ? endF : 0);
      compress(CV1, last ? lastPtr : p + (b << 6), <u32>ctr, <u32>(ctr >>> 32), last ? lastLen : 64, flags);
    }
    memory.copy(load<u32>(d, 36), CV1, 32);
  }
}
