// The kernels' public API, the same in Node, browsers and workerd: a
// `Kernels` object bound to one instantiated module, and top-level functions
// that use the default one set by `init()` (see index.ts / workerd.ts).
import { DeltaflareError } from '../base/errors.js';
import * as b3 from './blake3.js';
import * as cdc from './chunker.js';
import * as crc from './crc32.js';
import type { KernelInstance } from './instance.js';

import type { Blake3Hasher } from './blake3.js';
import type { Chunk, ChunkOptions, Chunker } from './chunker.js';

export type { Chunk, ChunkOptions, Chunker } from './chunker.js';
export type { Blake3Hasher } from './blake3.js';

/** All kernels of one wasm instance. Not shared between threads: make one per worker. */
export class Kernels {
  constructor(readonly instance: KernelInstance) {}

  /** True when running the wasm SIMD build. */
  get simd(): boolean {
    return this.instance.simd;
  }
  /**
   * A view of `size` bytes of the kernels' own wasm memory, for input the
   * caller writes there directly (a file read, a decoder's output). Every
   * kernel method then reads it in place instead of copying it in, which
   * saves ~12% of BLAKE3's time and ~25% of CRC32's and FastCDC's.
   *
   * One region per Kernels: a later call replaces it (same start, so bytes
   * up to the smaller size are kept), and `allocInput(0)` gives it back
   * (wasm memory never shrinks). Subarrays of the view work too. Memory grows
   * once, for the region plus a 2 MiB scratch reserve that every kernel stays
   * within when reading in place; a copied call that needs more (chunking
   * with max above ~1 MiB) grows memory, which detaches the view: kernels
   * then refuse it with INVALID_ARGUMENT and allocInput() gives a fresh view.
   * @example
   * const view = k.allocInput(stat.size);
   * fs.readSync(fd, view, 0, view.length, 0);
   * k.blake3(view); k.chunk(view, { blake3: true }); // no copy
   */
  allocInput(size: number): Uint8Array {
    return this.instance.allocInput(size);
  }
  /** BLAKE3 digest (32 bytes) of `bytes`. */
  blake3(bytes: Uint8Array): Uint8Array {
    return b3.blake3(this.instance, bytes);
  }
  /** An incremental BLAKE3 hasher: `update()` any number of pieces, then `digest()`. */
  createBlake3(): Blake3Hasher {
    return new b3.Blake3Hasher(this.instance);
  }
  /** BLAKE3 digests of consecutive chunks of `bytes` ending at `ends`, concatenated (32 bytes each). */
  blake3Chunks(bytes: Uint8Array, ends: Uint32Array): Uint8Array {
    return b3.blake3Chunks(this.instance, bytes, ends);
  }
  /** zlib's crc32: continues `crc` (default 0) over `bytes`. */
  crc32(bytes: Uint8Array, initial = 0): number {
    return crc.crc32(this.instance, bytes, initial);
  }
  /** zlib's crc32_combine: the CRC of A followed by B, from CRC(A), CRC(B) and B's length. */
  crc32Combine(crcA: number, crcB: number, lengthB: number): number {
    return crc.crc32Combine(this.instance, crcA, crcB, lengthB);
  }
  /** FastCDC-2020 chunks of `bytes` (offset, length, crc32, and blake3 when asked). */
  chunk(bytes: Uint8Array, options?: ChunkOptions): Chunk[] {
    return cdc.chunk(this.instance, bytes, options);
  }
  /** FastCDC-2020 chunks with CRC-32 and BLAKE3 as flat arrays (32 bytes per hash): chunk(bytes, { blake3: true }) without an object per chunk. */
  chunkRecords(bytes: Uint8Array, options?: Omit<ChunkOptions, 'blake3'>): { lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array } {
    return cdc.chunkRecords(this.instance, bytes, options);
  }
  /** FastCDC-2020 cut points only: the end offset of every chunk (the last is bytes.length). */
  cutPoints(bytes: Uint8Array, options?: ChunkOptions): Uint32Array {
    return cdc.cutPoints(this.instance, bytes, options);
  }
  /** A streaming chunker: the same chunks whatever the sizes of the pieces pushed. */
  createChunker(options?: ChunkOptions): Chunker {
    return new cdc.Chunker(this.instance, options);
  }
}

let current: Kernels | undefined;

/** Sets the instance the top-level functions use (done by `init()`). */
export function setDefaultKernels(kernels: Kernels): void {
  current = kernels;
}

/** The default kernels; throws NOT_INITIALIZED before `init()` has resolved. */
export function defaultKernels(): Kernels {
  if (!current) throw new DeltaflareError('NOT_INITIALIZED', 'kernels are not loaded: await init() first');
  return current;
}

// The same API as top-level functions over the default instance.
/** A region of kernel memory that kernels read in place. @example const v = allocInput(n); fs.readSync(fd, v); blake3(v) */
export const allocInput = (size: number): Uint8Array => defaultKernels().allocInput(size);
/** BLAKE3 digest (32 bytes) of `bytes`. @example blake3(new TextEncoder().encode('abc')) */
export const blake3 = (bytes: Uint8Array): Uint8Array => defaultKernels().blake3(bytes);
/** An incremental BLAKE3 hasher. @example createBlake3().update(a).update(b).digest() */
export const createBlake3 = (): Blake3Hasher => defaultKernels().createBlake3();
/** BLAKE3 digests of consecutive chunks ending at `ends`, 32 bytes each, concatenated. */
export const blake3Chunks = (bytes: Uint8Array, ends: Uint32Array): Uint8Array => defaultKernels().blake3Chunks(bytes, ends);
/** zlib's crc32. @example crc32(bytes) === zlib.crc32(bytes) */
export const crc32 = (bytes: Uint8Array, initial = 0): number => defaultKernels().crc32(bytes, initial);
/** zlib's crc32_combine. @example crc32Combine(crc32(a), crc32(b), b.length) === crc32(concat(a, b)) */
export const crc32Combine = (crcA: number, crcB: number, lengthB: number): number => defaultKernels().crc32Combine(crcA, crcB, lengthB);
/** FastCDC-2020 chunks. @example chunk(bytes, { avg: 8192 }).map((c) => c.length) */
export const chunk = (bytes: Uint8Array, options?: ChunkOptions): Chunk[] => defaultKernels().chunk(bytes, options);
/** FastCDC-2020 chunk end offsets. @example cutPoints(bytes) // Uint32Array [8931, 19760, ...] */
export const cutPoints = (bytes: Uint8Array, options?: ChunkOptions): Uint32Array => defaultKernels().cutPoints(bytes, options);
/** A streaming FastCDC-2020 chunker. @example const c = createChunker(); c.push(a); c.push(b); c.finish() */
export const createChunker = (options?: ChunkOptions): Chunker => defaultKernels().createChunker(options);
