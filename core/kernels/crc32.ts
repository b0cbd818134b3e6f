// zlib's crc32 and crc32_combine over the wasm kernel (assembly/crc32.ts).
import { checkRange } from '../base/errors.js';
import type { KernelInstance } from './instance.js';

const U32_MAX = 0xffffffff;

/** zlib's crc32: continues `crc` over `bytes` (0 starts a new checksum). */
export function crc32(k: KernelInstance, bytes: Uint8Array, crc = 0): number {
  checkRange('crc', crc, 0, U32_MAX);
  let c = crc;
  k.feed(bytes, (ptr, len) => {
    c = k.exports.crc32Update(c, ptr, len);
  });
  return c >>> 0;
}

/** zlib's crc32_combine: CRC of A then B from CRC(A), CRC(B) and B's length. */
export function crc32Combine(k: KernelInstance, crcA: number, crcB: number, lengthB: number): number {
  checkRange('crcA', crcA, 0, U32_MAX);
  checkRange('crcB', crcB, 0, U32_MAX);
  checkRange('lengthB', lengthB, 0, Number.MAX_SAFE_INTEGER);
  return k.exports.crc32Combine(crcA, crcB, BigInt(lengthB)) >>> 0;
}

/**
 * `crc` moved past `length` more bytes (multiplied by x^(8*length) mod P), so
 * crc(B) = crc(A||B) ^ crc32Shift(crc(A), |B|): a range's CRC from two prefix CRCs.
 */
export function crc32Shift(k: KernelInstance, crc: number, length: number): number {
  checkRange('crc', crc, 0, U32_MAX);
  checkRange('length', length, 0, Number.MAX_SAFE_INTEGER);
  return k.exports.crc32Shift(crc, BigInt(length)) >>> 0;
}
