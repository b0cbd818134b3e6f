// CRC-32/ISO-HDLC, zlib's crc32: reflected polynomial 0xEDB88320, initial and
// final XOR 0xFFFFFFFF. crc32Update(0, "123456789") = 0xCBF43926.
//
// Wasm has no carry-less multiply, so the bulk path is table-driven:
// slicing-by-16 (16 tables of 256 u32 = 16 KiB, fits L1's 32 KiB), ~3 GB/s
// kernel-only on Zen 4 under Node 20 vs ~1.9 for hash-wasm's slicing-by-8
// (the variants measured are in docs/kernels.md).
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

/** Advances a raw state over one byte (the classic one-table step, for tails < 16 bytes). */
// @ts-ignore: decorator
@inline function step1(c: u32, ptr: usize): u32 {
  return load<u32>(TABLES + (<usize>((c ^ load<u8>(ptr)) & 0xff) << 2)) ^ (c >>> 8);
}

// A word nobody reads. crc32Step16 stores its partial sum here twice: a store
// is an effect, so V8 (TurboFan, Node 20) must finish the XORs before it
// issues the later loads. Without it V8 hoists all 16 table loads, runs out of
// x64 registers and spills the CRC state to the stack, which puts a
// store-to-load forward on the loop-carried path (best of 11 runs over a
// cache-resident 128 KiB piece: 3.2 GB/s without the stores, 3.5-3.6 with).
const SINK = memory.data(4, 4);

/**
 * Advances a raw (inverted) CRC state over exactly 16 bytes at `ptr`.
 * Slicing-by-16: byte i of the block looks up table 15 - i (its distance from
 * the block's end); the state is XORed into bytes 0-3. Bytes 4-15 do not
 * depend on the state, so their 12 lookups overlap the previous block's chain;
 * table offsets are literal so V8 folds them into the load's displacement.
 */
// @ts-ignore: decorator
@inline export function crc32Step16(state: u32, ptr: usize): u32 {
  const w0 = state ^ load<u32>(ptr);
  let x = load<u32>(<usize>load<u8>(ptr, 4) << 2, TABLES + 11 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 5) << 2, TABLES + 10 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 6) << 2, TABLES + 9 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 7) << 2, TABLES + 8 * 1024);
  store<u32>(SINK, x);
  x ^= load<u32>(<usize>load<u8>(ptr, 8) << 2, TABLES + 7 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 9) << 2, TABLES + 6 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 10) << 2, TABLES + 5 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 11) << 2, TABLES + 4 * 1024);
  store<u32>(SINK, x);
  x ^= load<u32>(<usize>load<u8>(ptr, 12) << 2, TABLES + 3 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 13) << 2, TABLES + 2 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 14) << 2, TABLES + 1 * 1024);
  x ^= load<u32>(<usize>load<u8>(ptr, 15) << 2, TABLES + 0 * 1024);
  // (w >>> (8i - 2)) & 0x3fc is byte i of w already scaled by 4: 2 ops, not 3.
  const a =
    load<u32>(<usize>((w0 << 2) & 0x3fc), TABLES + 15 * 1024) ^
    load<u32>(<usize>((w0 >>> 6) & 0x3fc), TABLES + 14 * 1024);
  const b =
    load<u32>(<usize>((w0 >>> 14) & 0x3fc), TABLES + 13 * 1024) ^
    load<u32>(<usize>((w0 >>> 22) & 0x3fc), TABLES + 12 * 1024);
  return x ^ (a ^ b);
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
