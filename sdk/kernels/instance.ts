import { DeltaflareError } from '../errors.js';
import type { KernelExports } from './abi.js';

/** Bytes copied into wasm memory per kernel call by `feed` (a multiple of BLAKE3's 1 KiB chunk). */
export const PIECE = 128 * 1024;

/** Where the compiled module comes from: bytes (Node, browsers) or a precompiled module (workerd). */
export type ModuleSource = (simd: boolean) => Promise<WebAssembly.Module> | WebAssembly.Module;

/**
 * One instantiated kernels module. Every wrapper (blake3.ts, crc32.ts,
 * chunker.ts) takes one of these, so a test can drive the SIMD and the scalar
 * build side by side.
 */
export class KernelInstance {
  private view = new Uint8Array(0);

  constructor(
    readonly exports: KernelExports,
    /** True when this is the wasm SIMD build. */
    readonly simd: boolean,
  ) {}

  /** Ensures `size` bytes of scratch and returns its address. Memory may grow: re-take views after. */
  scratch(size: number): number {
    return this.exports.scratch(size);
  }

  /**
   * Feeds `bytes` to a kernel in pieces copied into scratch, so an input of
   * any size needs only PIECE bytes of wasm memory. `fn(ptr, len)` runs once
   * per piece, in order. The pieces stay cache-resident (128 KiB < L2), so the
   * copy costs a few percent of a kernel's time, not a second pass over RAM.
   */
  feed(bytes: Uint8Array, fn: (ptr: number, len: number) => void, at = 0): void {
    const ptr = this.scratch(at + Math.min(bytes.length, PIECE)) + at;
    for (let offset = 0; offset < bytes.length; offset += PIECE) {
      const piece = bytes.subarray(offset, offset + PIECE);
      this.bytes.set(piece, ptr);
      fn(ptr, piece.length);
    }
  }

  /** The module's memory as bytes; a fresh view whenever memory has grown. */
  get bytes(): Uint8Array {
    if (this.view.buffer !== this.exports.memory.buffer) this.view = new Uint8Array(this.exports.memory.buffer);
    return this.view;
  }
}

// The smallest module using a SIMD instruction (i8x16.splat, i8x16.popcnt):
// WebAssembly.validate() accepts it only where wasm SIMD is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** True when this runtime runs wasm SIMD. */
export function simdSupported(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}

/** Instantiates the kernels; `simd` defaults to what the runtime supports. */
export async function instantiate(source: ModuleSource, simd = simdSupported()): Promise<KernelInstance> {
  try {
    const module = await source(simd);
    const instance = await WebAssembly.instantiate(module, {});
    return new KernelInstance(instance.exports as unknown as KernelExports, simd);
  } catch (cause) {
    throw new DeltaflareError('KERNELS_UNAVAILABLE', `cannot load the ${simd ? 'SIMD' : 'scalar'} kernels: ${cause}`, { cause });
  }
}
