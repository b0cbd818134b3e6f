// A slow, dependency-free FastCDC-2020 reference for tests: a line-by-line
// transcription of the reference crate's `cut()` (fastcdc v2020), checked
// against the crate's published cut points in fastcdc-reference.test.ts.
// Kernel tests compare against this on inputs the fixture does not cover.
//
// The hash is kept modulo 2^48 as a float: every mask is below 2^48 and a
// 64-bit shift-and-add never carries from high bits into low ones, so the
// masked bits are exactly the reference's.
import { createHash } from 'node:crypto';

const TWO48 = 2 ** 48;
const TWO32 = 2 ** 32;

/** GEAR[b] mod 2^48, from the recipe: first 8 bytes (big-endian) of MD5 of 64 bytes all equal to b. */
const GEAR48 = Array.from({ length: 256 }, (_, b) => {
  const d = createHash('md5').update(Buffer.alloc(64, b)).digest();
  return (d.readUInt16BE(2) * TWO32 + d.readUInt32BE(4)) % TWO48;
});

const MASKS: Record<number, number> = {
  5: 0x0000000001804110,
  6: 0x0000000001803110,
  7: 0x0000000018035100,
  8: 0x0000001800035300,
  9: 0x0000019000353000,
  10: 0x0000590003530000,
  11: 0x0000d90003530000,
  12: 0x0000d90103530000,
  13: 0x0000d90303530000,
  14: 0x0000d90313530000,
  15: 0x0000d90f03530000,
  16: 0x0000d90303537000,
  17: 0x0000d90703537000,
  18: 0x0000d90707537000,
  19: 0x0000d91707537000,
  20: 0x0000d91747537000,
  21: 0x0000d91767537000,
  22: 0x0000d93767537000,
  23: 0x0000d93777537000,
  24: 0x0000d93777577000,
  25: 0x0000db3777577000,
};

const masked = (h: number, mask: number): boolean => ((Math.floor(h / TWO32) & Math.floor(mask / TWO32)) | ((h % TWO32) & (mask % TWO32))) === 0;

export interface ReferenceParams {
  min: number;
  avg: number;
  max: number;
  level: number;
}

/** Length of the next chunk of `src` (which starts at a cut), as the reference's `cut()`. */
export function referenceCut(src: Uint8Array, p: ReferenceParams): number {
  const bits = Math.round(Math.log2(p.avg));
  const maskS = MASKS[bits + p.level];
  const maskL = MASKS[bits - p.level];
  let remaining = src.length;
  if (remaining <= p.min) return remaining;
  let center = p.avg;
  if (remaining > p.max) remaining = p.max;
  else if (remaining < center) center = remaining;
  let h = 0;
  // The reference rolls two bytes per step and tests (hash<<1) & (mask<<1) for
  // the first: the same as testing the one-byte hash at every position.
  let i = Math.floor(p.min / 2) * 2;
  for (; i < Math.floor(center / 2) * 2; i++) {
    h = (h * 2 + GEAR48[src[i]]) % TWO48;
    if (masked(h, maskS)) return i;
  }
  for (; i < Math.floor(remaining / 2) * 2; i++) {
    h = (h * 2 + GEAR48[src[i]]) % TWO48;
    if (masked(h, maskL)) return i;
  }
  return remaining;
}

/** All chunk lengths of `src`, as the reference's iterator. */
export function referenceChunks(src: Uint8Array, p: ReferenceParams): number[] {
  const lengths: number[] = [];
  for (let offset = 0; offset < src.length; ) {
    const n = referenceCut(src.subarray(offset), p);
    lengths.push(n);
    offset += n;
  }
  return lengths;
}
