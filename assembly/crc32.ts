// CRC-32/ISO-HDLC, zlib's crc32: reflected polynomial 0xEDB88320, initial and
// final XOR 0xFFFFFFFF. crc32Update(0, "123456789") = 0xCBF43926.
//
// Wasm has no carry-less multiply, so the bulk path is table-driven:
// slicing-by-16 (16 tables of 256 u32 = 16 KiB, fits L1's 32 KiB).
// Combine uses zlib 1.2.12+'s method: multiply by x^(8n) mod P, with x^(8n)
// built from a table of x^(2^k) (O(log n) multiplications).
//
// "Raw" states below are the inverted CRC (~crc), the register zlib's inner
// loop carries; crc32Update inverts on entry and exit.

/** The reflected CRC-32 polynomial (x^32 + x^26 + ... + 1, bit 0 = x^31). */
const POLY: u32 = 0xedb88320;

// TABLES + k*1024: table k of slicing-by-16. Recipe: T0[n] = n shifted out
// through POLY bit by bit (the classic one-byte table); Tk[n] = (T(k-1)[n] >>> 8)
// ^ T0[T(k-1)[n] & 0xff], i.e. the CRC of byte n followed by k zero bytes.
// Computed once at instantiation (4096 entries, ~10 µs), not stored as data.
const TABLES = memory.data(16 * 256 * 4, 64);

// X2N + 4k: x^(2^k) mod P for k = 0..31 (reflected, x^0 = 0x80000000).
// Recipe: X2N[0] = x^1 = 0x40000000, X2N[k] = X2N[k-1]^2 mod P. Since the
// order of x mod P divides 2^32 - 1, x^(2^32) = x, so index k & 31 serves any k.
const X2N = memory.data(32 * 4, 16);

function initTables(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLES + (<usize>n << 2), c);
  }
  for (let k: usize = 1; k < 16; k++) {
    for (let n: usize = 0; n < 256; n++) {
      const prev = load<u32>(TABLES + ((k - 1) << 10) + (n << 2));
      store<u32>(TABLES + (k << 10) + (n << 2), (prev >>> 8) ^ load<u32>(TABLES + (<usize>(prev & 0xff) << 2)));
    }
  }
  let p: u32 = 0x40000000;
  store<u32>(X2N, p);
  for (let k: usize = 1; k < 32; k++) {
    p = multModP(p, p);
    store<u32>(X2N + (k << 2), p);
  }
}
initTables();

// Table k entry for the byte of `w` at bit `shift`: `(w >>> (shift - 2)) & 0x3fc`
// is the byte already scaled by 4 (2 ops instead of 3).
// @ts-ignore: decorator
@inline function tk(k: usize, w: u32, shift: i32): u32 {
  const i: usize = shift >= 2 ? <usize>((w >>> (shift - 2)) & 0x3fc) : <usize>((w << 2) & 0x3fc);
  return load<u32>(TABLES + (k << 10) + i);
}

// @ts-ignore: decorator
@inline function step1(c: u32, ptr: usize): u32 {
  return load<u32>(TABLES + (<usize>((c ^ load<u8>(ptr)) & 0xff) << 2)) ^ (c >>> 8);
}

/**
 * Advances a raw (inverted) CRC state over exactly 16 bytes at `ptr`
 * (slicing-by-16: the first 4 bytes are XORed into the state, every byte then
 * looks up the table for its distance from the end of the block).
 */
// @ts-ignore: decorator
@inline export function crc32Step16(state: u32, ptr: usize): u32 {
  const w0 = state ^ load<u32>(ptr);
  const w1 = load<u32>(ptr, 4);
  const w2 = load<u32>(ptr, 8);
  const w3 = load<u32>(ptr, 12);
  return (
    tk(15, w0, 0) ^ tk(14, w0, 8) ^ tk(13, w0, 16) ^ tk(12, w0, 24) ^
    tk(11, w1, 0) ^ tk(10, w1, 8) ^ tk(9, w1, 16) ^ tk(8, w1, 24) ^
    tk(7, w2, 0) ^ tk(6, w2, 8) ^ tk(5, w2, 16) ^ tk(4, w2, 24) ^
    tk(3, w3, 0) ^ tk(2, w3, 8) ^ tk(1, w3, 16) ^ tk(0, w3, 24)
  );
}

/** Advances a raw (inverted) CRC state over `len` bytes at `ptr`; no pre/post inversion. */
export function crc32Raw(state: u32, ptr: usize, len: usize): u32 {
  let c = state;
  const end = ptr + len;
  while (ptr + 16 <= end) {
    c = crc32Step16(c, ptr);
    ptr += 16;
  }
  while (ptr < end) c = step1(c, ptr++);
  return c;
}

/** zlib's crc32(crc, buf, len): continues `crc` over `len` bytes at `ptr`. */
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  return ~crc32Raw(~crc, ptr, len);
}

/** a * b mod P, both reflected (bit 31 = x^0); zlib's multmodp, without branches. */
function multModP(a: u32, b: u32): u32 {
  let p: u32 = 0;
  for (let i = 0; i < 32; i++) {
    p ^= b & (0 - (a >>> 31)); // add b when a's x^i coefficient is set
    a <<= 1;
    b = (b >>> 1) ^ (POLY & (0 - (b & 1))); // b *= x
  }
  return p;
}

/** x^(8 * len) mod P: one multiplication per set bit of len (zlib's x2nmodp(len, 3)). */
function x8nModP(len: u64): u32 {
  let p: u32 = 0x80000000;
  let k: u32 = 3;
  while (len) {
    if (len & 1) p = multModP(load<u32>(X2N + (<usize>(k & 31) << 2)), p);
    len >>= 1;
    k++;
  }
  return p;
}

/**
 * Multiplies `crc` by x^(8*len) mod P: the CRC of A moved past `len` more bytes.
 * So crc(A||B) = crc32Shift(crc(A), |B|) ^ crc(B), and crc(B) = crc(A||B) ^ crc32Shift(crc(A), |B|).
 */
export function crc32Shift(crc: u32, len: u64): u32 {
  return multModP(x8nModP(len), crc);
}

/** zlib's crc32_combine: the CRC of A followed by B, from crc(A), crc(B) and |B|. */
export function crc32Combine(crcA: u32, crcB: u32, lenB: u64): u32 {
  return crc32Shift(crcA, lenB) ^ crcB;
}
