// The exports of the kernels' wasm module (assembly/index.ts), as JavaScript
// sees them. Pointers are byte addresses in `memory`; wasm u64 arguments and
// results are bigint. One section per kernel file in assembly/.

export interface KernelExports {
  memory: WebAssembly.Memory;
  /** assembly/scratch.ts: ensures `size` bytes of scratch, returns its address. */
  scratch(size: number): number;

  // assembly/crc32.ts
  /** zlib crc32(crc, buf, len). */
  crc32Update(crc: number, ptr: number, len: number): number;
  /** zlib crc32_combine(crcA, crcB, lenB). */
  crc32Combine(crcA: number, crcB: number, lenB: bigint): number;
  /** crc * x^(8*len) mod P: crc(A||B) = crc32Shift(crc(A), |B|) ^ crc(B). */
  crc32Shift(crc: number, len: bigint): number;
  /** Advances a raw (inverted, ~crc) state over `len` bytes; no pre/post inversion. */
  crc32Raw(state: number, ptr: number, len: number): number;
  /** Advances a raw state over exactly 16 bytes at `ptr` (the fused kernels' unit). */
  crc32Step16(state: number, ptr: number): number;

  // assembly/blake3.ts (+ blake3-simd.ts, blake3-scalar.ts, blake3-lanes.ts)
  /** Resets the incremental hasher held in the module's state area. */
  blake3Reset(): void;
  /** Adds `len` bytes at `ptr` to the incremental hasher. */
  blake3Update(ptr: number, len: number): void;
  /** Writes the 32-byte digest of everything given since the last reset; the state is left unchanged. */
  blake3Finalize(outPtr: number): void;
  /** Address and size of the incremental state, so a wrapper can save and restore it. */
  blake3StatePtr(): number;
  blake3StateSize(): number;
  /** One-shot digest of `len` bytes at `ptr`, written to `outPtr` (32 bytes); uses its own state, not the hasher's. */
  blake3Hash(ptr: number, len: number, outPtr: number): void;
  /**
   * Digests of `count` consecutive chunks of the bytes at `ptr`: chunk i ends
   * at offset ends[i] (u32 array at `endsPtr`, non-decreasing), starts at
   * ends[i-1] (0 for i=0). Writes count*32 bytes at `outPtr`. Uses about
   * 48*count + len/32 bytes of work space after the end of the furthest of
   * the three areas (memory grows for it), so nothing live may lie there.
   */
  blake3Chunks(ptr: number, endsPtr: number, count: number, outPtr: number): void;

  // assembly/fastcdc.ts: FastCDC-2020 (see core/kernels/chunker.ts)
  /** Sets min, avg, max and the normalization level (checked by the wrapper; traps when out of range). */
  fastcdcConfig(min: number, avg: number, max: number, level: number): void;
  /**
   * Cut points of `len` bytes at `ptr` (starting at a cut): writes up to `cap`
   * chunk ends (u32, from ptr) at `endsPtr`, returns the count. Unless `last`,
   * stops while fewer than max bytes are left. Reads up to 64 bytes past len.
   */
  fastcdcCuts(ptr: number, len: number, last: boolean, endsPtr: number, cap: number): number;
  /** As fastcdcCuts, plus each chunk's CRC-32 (u32, signed when read as i32) at `crcsPtr`, in the same pass. */
  fastcdcChunks(ptr: number, len: number, last: boolean, endsPtr: number, crcsPtr: number, cap: number): number;
}
