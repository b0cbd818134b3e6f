// BLAKE3 wasm SIMD backend: 4 independent lanes per v128, one lane per job.
//
// Layout: state word j of the 4 lanes sits in one v128 (v_j = [lane0, lane1,
// lane2, lane3]), so the G function runs on whole vectors and needs no
// diagonal shuffles; the chaining value of a batch stays transposed in CV4
// (8 x v128) for all its blocks and is transposed back once at the end.
// Messages are loaded as 4 x v128 per lane and transposed with 32- and 64-bit
// unpacks (V8 emits punpck{l,h}{dq,qdq} for these shuffle patterns).
//
// Speed (Node 20 / V8 11.3, Zen 4, 4 x 1 KiB chunks in cache): ~2.2-2.4 GB/s;
// 4 lanes, not 8: 32 state vectors spill on x64's 15 xmm registers
// (docs/kernels.md has the variants measured).
import { IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7 } from './blake3-scalar';
import { CHUNK_END, CHUNK_START, LANE_STRIDE } from './blake3-lanes';

/** Chaining values of the 4 lanes of the running batch, transposed: 8 x v128. */
const CV4 = memory.data(128, 16);

/** The transposed message block of the running compression: word k of the 4 lanes at 16*k. */
const MSG = memory.data(256, 16);

// Rotations right. By 16: a 16-bit shuffle (V8: pshuflw + pshufhw, no
// constant register). By 8: a byte swizzle with a constant table, which V8
// emits as one pshufb with the table hoisted into a register; the same
// pattern written as i8x16.shuffle costs 5 instructions (V8 rebuilds the
// table at every use), and shifts cost 3. By 12 and 7: two shifts and an or.
// Measured on 128 KiB in cache: shuffle-rot8 1.74 GB/s, shift-rot8 2.0, swizzle-rot8 2.1+.
// @ts-ignore: decorator
@inline function rot16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
// @ts-ignore: decorator
@inline function rot12(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 12), i32x4.shl(x, 20));
}
// @ts-ignore: decorator
@inline function rot8(x: v128): v128 {
  return i8x16.swizzle(x, i8x16(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12));
}
// @ts-ignore: decorator
@inline function rot7(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 7), i32x4.shl(x, 25));
}
/** a + b + m, adding m first: a and m are ready before b, the end of the previous step. */
// @ts-ignore: decorator
@inline function add3(a: v128, b: v128, m: v128): v128 {
  return i32x4.add(i32x4.add(a, m), b);
}
/** Message word k of the 4 lanes (k constant after inlining: a load at a fixed address). */
// @ts-ignore: decorator
@inline function msg(k: usize): v128 {
  return v128.load(MSG + (k << 4));
}
// 4x4 transpose steps: [a0 b0 a1 b1], [a2 b2 a3 b3], [a0 a1 b0 b1], [a2 a3 b2 b3] in 32/64-bit units.
// @ts-ignore: decorator
@inline function lo32(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
}
// @ts-ignore: decorator
@inline function hi32(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
}
// @ts-ignore: decorator
@inline function lo64(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}
// @ts-ignore: decorator
@inline function hi64(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
}

/**
 * One block for each of 4 lanes: CV4 absorbs the blocks at p0..p3 with the
 * per-lane counter halves, block lengths and flags given as vectors.
 * The transposed message goes through MSG rather than 16 locals: V8 has 15
 * usable xmm registers for 16 state words, so the message lives on the stack
 * either way; this way costs no more moves (measured: 382 vs 419 moves).
 */
function compress4(p0: usize, p1: usize, p2: usize, p3: usize, ctrLo: v128, ctrHi: v128, blockLen: v128, flags: v128): void {
  let a = v128.load(p0), b = v128.load(p1), c = v128.load(p2), d = v128.load(p3);
  let t0 = lo32(a, b), t1 = hi32(a, b), t2 = lo32(c, d), t3 = hi32(c, d);
  v128.store(MSG, lo64(t0, t2), 0); v128.store(MSG, hi64(t0, t2), 16); v128.store(MSG, lo64(t1, t3), 32); v128.store(MSG, hi64(t1, t3), 48);
  a = v128.load(p0, 16); b = v128.load(p1, 16); c = v128.load(p2, 16); d = v128.load(p3, 16);
  t0 = lo32(a, b); t1 = hi32(a, b); t2 = lo32(c, d); t3 = hi32(c, d);
  v128.store(MSG, lo64(t0, t2), 64); v128.store(MSG, hi64(t0, t2), 80); v128.store(MSG, lo64(t1, t3), 96); v128.store(MSG, hi64(t1, t3), 112);
  a = v128.load(p0, 32); b = v128.load(p1, 32); c = v128.load(p2, 32); d = v128.load(p3, 32);
  t0 = lo32(a, b); t1 = hi32(a, b); t2 = lo32(c, d); t3 = hi32(c, d);
  v128.store(MSG, lo64(t0, t2), 128); v128.store(MSG, hi64(t0, t2), 144); v128.store(MSG, lo64(t1, t3), 160); v128.store(MSG, hi64(t1, t3), 176);
  a = v128.load(p0, 48); b = v128.load(p1, 48); c = v128.load(p2, 48); d = v128.load(p3, 48);
  t0 = lo32(a, b); t1 = hi32(a, b); t2 = lo32(c, d); t3 = hi32(c, d);
  v128.store(MSG, lo64(t0, t2), 192); v128.store(MSG, hi64(t0, t2), 208); v128.store(MSG, lo64(t1, t3), 224); v128.store(MSG, hi64(t1, t3), 240);

  let v0 = v128.load(CV4, 0), v1 = v128.load(CV4, 16), v2 = v128.load(CV4, 32), v3 = v128.load(CV4, 48);
  let v4 = v128.load(CV4, 64), v5 = v128.load(CV4, 80), v6 = v128.load(CV4, 96), v7 = v128.load(CV4, 112);
  let v8 = i32x4.splat(IV0), v9 = i32x4.splat(IV1), v10 = i32x4.splat(IV2), v11 = i32x4.splat(IV3);
  let v12 = ctrLo, v13 = ctrHi, v14 = blockLen, v15 = flags;
  // round 0: message words 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
  v0 = add3(v0, v4, msg(0)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(1)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(2)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(3)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(4)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(5)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(6)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(7)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(8)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(9)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(10)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(11)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(12)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(13)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(14)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(15)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 1: message words 2 6 3 10 7 0 4 13 1 11 12 5 9 14 15 8
  v0 = add3(v0, v4, msg(2)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(6)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(3)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(10)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(7)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(0)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(4)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(13)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(1)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(11)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(12)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(5)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(9)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(14)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(15)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(8)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 2: message words 3 4 10 12 13 2 7 14 6 5 9 0 11 15 8 1
  v0 = add3(v0, v4, msg(3)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(4)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(10)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(12)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(13)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(2)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(7)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(14)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(6)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(5)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(9)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(0)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(11)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(15)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(8)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(1)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 3: message words 10 7 12 9 14 3 13 15 4 0 11 2 5 8 1 6
  v0 = add3(v0, v4, msg(10)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(7)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(12)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(9)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(14)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(3)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(13)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(15)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(4)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(0)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(11)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(2)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(5)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(8)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(1)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(6)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 4: message words 12 13 9 11 15 10 14 8 7 2 5 3 0 1 6 4
  v0 = add3(v0, v4, msg(12)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(13)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(9)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(11)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(15)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(10)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(14)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(8)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(7)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(2)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(5)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(3)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(0)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(1)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(6)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(4)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 5: message words 9 14 11 5 8 12 15 1 13 3 0 10 2 6 4 7
  v0 = add3(v0, v4, msg(9)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(14)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(11)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(5)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(8)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(12)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(15)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(1)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(13)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(3)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(0)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(10)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(2)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(6)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(4)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(7)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  // round 6: message words 11 15 5 0 1 9 8 6 14 10 2 12 3 4 7 13
  v0 = add3(v0, v4, msg(11)); v12 = rot16(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot12(v128.xor(v4, v8));
  v0 = add3(v0, v4, msg(15)); v12 = rot8(v128.xor(v12, v0)); v8 = i32x4.add(v8, v12); v4 = rot7(v128.xor(v4, v8));
  v1 = add3(v1, v5, msg(5)); v13 = rot16(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot12(v128.xor(v5, v9));
  v1 = add3(v1, v5, msg(0)); v13 = rot8(v128.xor(v13, v1)); v9 = i32x4.add(v9, v13); v5 = rot7(v128.xor(v5, v9));
  v2 = add3(v2, v6, msg(1)); v14 = rot16(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot12(v128.xor(v6, v10));
  v2 = add3(v2, v6, msg(9)); v14 = rot8(v128.xor(v14, v2)); v10 = i32x4.add(v10, v14); v6 = rot7(v128.xor(v6, v10));
  v3 = add3(v3, v7, msg(8)); v15 = rot16(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot12(v128.xor(v7, v11));
  v3 = add3(v3, v7, msg(6)); v15 = rot8(v128.xor(v15, v3)); v11 = i32x4.add(v11, v15); v7 = rot7(v128.xor(v7, v11));
  v0 = add3(v0, v5, msg(14)); v15 = rot16(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot12(v128.xor(v5, v10));
  v0 = add3(v0, v5, msg(10)); v15 = rot8(v128.xor(v15, v0)); v10 = i32x4.add(v10, v15); v5 = rot7(v128.xor(v5, v10));
  v1 = add3(v1, v6, msg(2)); v12 = rot16(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot12(v128.xor(v6, v11));
  v1 = add3(v1, v6, msg(12)); v12 = rot8(v128.xor(v12, v1)); v11 = i32x4.add(v11, v12); v6 = rot7(v128.xor(v6, v11));
  v2 = add3(v2, v7, msg(3)); v13 = rot16(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot12(v128.xor(v7, v8));
  v2 = add3(v2, v7, msg(4)); v13 = rot8(v128.xor(v13, v2)); v8 = i32x4.add(v8, v13); v7 = rot7(v128.xor(v7, v8));
  v3 = add3(v3, v4, msg(7)); v14 = rot16(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot12(v128.xor(v4, v9));
  v3 = add3(v3, v4, msg(13)); v14 = rot8(v128.xor(v14, v3)); v9 = i32x4.add(v9, v14); v4 = rot7(v128.xor(v4, v9));
  v128.store(CV4, v128.xor(v0, v8), 0);
  v128.store(CV4, v128.xor(v1, v9), 16);
  v128.store(CV4, v128.xor(v2, v10), 32);
  v128.store(CV4, v128.xor(v3, v11), 48);
  v128.store(CV4, v128.xor(v4, v12), 64);
  v128.store(CV4, v128.xor(v5, v13), 80);
  v128.store(CV4, v128.xor(v6, v14), 96);
  v128.store(CV4, v128.xor(v7, v15), 112);
}

/** CV4 := the IV in every lane. */
function resetCV4(): void {
  v128.store(CV4, i32x4.splat(IV0), 0);
  v128.store(CV4, i32x4.splat(IV1), 16);
  v128.store(CV4, i32x4.splat(IV2), 32);
  v128.store(CV4, i32x4.splat(IV3), 48);
  v128.store(CV4, i32x4.splat(IV4), 64);
  v128.store(CV4, i32x4.splat(IV5), 80);
  v128.store(CV4, i32x4.splat(IV6), 96);
  v128.store(CV4, i32x4.splat(IV7), 112);
}

/** Writes lane i of CV4 (32 bytes) to the `out` field of descriptor i. */
function storeCV4(lanes: usize): void {
  const o0 = <usize>load<u32>(lanes, 36), o1 = <usize>load<u32>(lanes + LANE_STRIDE, 36);
  const o2 = <usize>load<u32>(lanes + 2 * LANE_STRIDE, 36), o3 = <usize>load<u32>(lanes + 3 * LANE_STRIDE, 36);
  let a = v128.load(CV4, 0), b = v128.load(CV4, 16), c = v128.load(CV4, 32), d = v128.load(CV4, 48);
  let t0 = lo32(a, b), t1 = hi32(a, b), t2 = lo32(c, d), t3 = hi32(c, d);
  v128.store(o0, lo64(t0, t2));
  v128.store(o1, hi64(t0, t2));
  v128.store(o2, lo64(t1, t3));
  v128.store(o3, hi64(t1, t3));
  a = v128.load(CV4, 64); b = v128.load(CV4, 80); c = v128.load(CV4, 96); d = v128.load(CV4, 112);
  t0 = lo32(a, b); t1 = hi32(a, b); t2 = lo32(c, d); t3 = hi32(c, d);
  v128.store(o0, lo64(t0, t2), 16);
  v128.store(o1, hi64(t0, t2), 16);
  v128.store(o2, lo64(t1, t3), 16);
  v128.store(o3, hi64(t1, t3), 16);
}

/** A u32 field of the 4 descriptors as one vector. */
// @ts-ignore: decorator
@inline function field4(lanes: usize, offset: usize): v128 {
  let v = i32x4.splat(load<u32>(lanes + offset));
  v = i32x4.replace_lane(v, 1, load<u32>(lanes + LANE_STRIDE + offset));
  v = i32x4.replace_lane(v, 2, load<u32>(lanes + 2 * LANE_STRIDE + offset));
  return i32x4.replace_lane(v, 3, load<u32>(lanes + 3 * LANE_STRIDE + offset));
}

/** Hashes 4 full (1024-byte, non-root) chunks: descriptors give ptr, ctr, out. The hot loop of large inputs. */
export function runChunks4(lanes: usize): void {
  const p0 = <usize>load<u32>(lanes, 0), p1 = <usize>load<u32>(lanes + LANE_STRIDE, 0);
  const p2 = <usize>load<u32>(lanes + 2 * LANE_STRIDE, 0), p3 = <usize>load<u32>(lanes + 3 * LANE_STRIDE, 0);
  const ctrLo = field4(lanes, 16), ctrHi = field4(lanes, 20);
  const len = i32x4.splat(64);
  resetCV4();
  compress4(p0, p1, p2, p3, ctrLo, ctrHi, len, i32x4.splat(CHUNK_START));
  for (let o: usize = 64; o < 960; o += 64) {
    compress4(p0 + o, p1 + o, p2 + o, p3 + o, ctrLo, ctrHi, len, i32x4.splat(0));
  }
  compress4(p0 + 960, p1 + 960, p2 + 960, p3 + 960, ctrLo, ctrHi, len, i32x4.splat(CHUNK_END));
  storeCV4(lanes);
}

/**
 * Runs 4 general jobs (see blake3-lanes.ts) in step. Jobs are right-aligned:
 * a job of n blocks starts at step N - n (N = the longest), where its lane is
 * reset to the IV, so every job's last block is the batch's last step and the
 * steps before a lane's start are harmless throwaway work.
 */
export function runBlocks4(lanes: usize): void {
  const l1 = lanes + LANE_STRIDE, l2 = lanes + 2 * LANE_STRIDE, l3 = lanes + 3 * LANE_STRIDE;
  const n0 = load<u32>(lanes, 8), n1 = load<u32>(l1, 8), n2 = load<u32>(l2, 8), n3 = load<u32>(l3, 8);
  const nMax: u32 = max(max(n0, n1), max(n2, n3));
  const s0 = nMax - n0, s1 = nMax - n1, s2 = nMax - n2, s3 = nMax - n3;
  const start = i32x4.sub(i32x4.splat(nMax), field4(lanes, 8));
  const ctrLo = field4(lanes, 16), ctrHi = field4(lanes, 20);
  const startF = field4(lanes, 24), endF = field4(lanes, 28), allF = field4(lanes, 32);
  const p0 = <usize>load<u32>(lanes, 0), p1 = <usize>load<u32>(l1, 0), p2 = <usize>load<u32>(l2, 0), p3 = <usize>load<u32>(l3, 0);
  const full = i32x4.splat(64);
  for (let s: u32 = 0; s < nMax; s++) {
    const begin = i32x4.eq(i32x4.splat(s), start);
    if (v128.any_true(begin)) {
      v128.store(CV4, v128.bitselect(i32x4.splat(IV0), v128.load(CV4, 0), begin), 0);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV1), v128.load(CV4, 16), begin), 16);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV2), v128.load(CV4, 32), begin), 32);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV3), v128.load(CV4, 48), begin), 48);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV4), v128.load(CV4, 64), begin), 64);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV5), v128.load(CV4, 80), begin), 80);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV6), v128.load(CV4, 96), begin), 96);
      v128.store(CV4, v128.bitselect(i32x4.splat(IV7), v128.load(CV4, 112), begin), 112);
    }
    let flags = v128.or(allF, v128.and(startF, begin));
    if (s == nMax - 1) {
      flags = v128.or(flags, endF);
      compress4(
        <usize>load<u32>(lanes, 4), <usize>load<u32>(l1, 4), <usize>load<u32>(l2, 4), <usize>load<u32>(l3, 4),
        ctrLo, ctrHi, field4(lanes, 12), flags,
      );
    } else {
      // Before its start a lane rereads its first block; the result is discarded by the reset.
      compress4(
        p0 + (<usize>(s > s0 ? s - s0 : <u32>0) << 6), p1 + (<usize>(s > s1 ? s - s1 : <u32>0) << 6),
        p2 + (<usize>(s > s2 ? s - s2 : <u32>0) << 6), p3 + (<usize>(s > s3 ? s - s3 : <u32>0) << 6),
        ctrLo, ctrHi, full, flags,
      );
    }
  }
  storeCV4(lanes);
}
