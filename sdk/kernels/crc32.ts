import { checkRange } from '../errors.js';
import type { KernelInstance } from './instance.js';

/** zlib's crc32: continues `crc` over `bytes` (0 starts a new checksum). */
export function crc32(k: KernelInstance, bytes: Uint8Array, crc = 0): number {
  checkRange('crc', crc, 0, 0xffffffff);
  let c = crc;
  k.feed(bytes, (ptr, len) => {
    c = k.exports.crc32Update(c, ptr, len);
  });
  return c >>> 0;
}

/** zlib's crc32_combine: CRC of A then B from CRC(A), CRC(B) and B's length. */
export function crc32Combine(k: KernelInstance, crcA: number, crcB: number, lengthB: number): number {
  checkRange('crcA', crcA, 0, 0xffffffff);
  checkRange('crcB', crcB, 0, 0xffffffff);
  checkRange('lengthB', lengthB, 0, Number.MAX_SAFE_INTEGER);
  return k.exports.crc32Combine(crcA, crcB, BigInt(lengthB)) >>> 0;
}
