import { DeltaflareError, checkRange } from '../base/errors.js';
import type { KernelExports } from './abi.js';

/** Bytes copied into wasm memory per kernel call by `feed` (a multiple of BLAKE3's 1 KiB chunk). */
export const PIECE = 128 * 1024;

/**
 * Scratch bytes `allocInput` keeps after its region, so that no call whose
 * input lies in the region grows memory (growing detaches every view of the
 * old memory, the caller's region view included). 2 MiB covers the largest
 * bounded need of every kernel, measured from its layout:
 * - blake3Chunks: a 256 KiB group (copied) + <= 16384 chunks x (4 B end +
 *   32 B digest + 48 B kernel work) + len/32 = 1.63 MiB (in place 1.38 MiB);
 * - chunk/cutPoints at the default max 64 KiB: a 576 KiB window + <= 4096 x 40 B
 *   (ends, CRCs, digests) + blake3 work ~0.2 MiB < 1 MiB; in place the
 *   window's bytes are not copied, so any max fits;
 * - blake3/crc32 128 KiB + 32 B.
 * Copied chunking with max above ~1 MiB needs max + 576 KiB and grows memory:
 * region views taken before then are refused (DeltaflareError), never misread.
 */
export const SCRATCH_RESERVE = 2 << 20;
/** Region sizes are rounded up to this, so scratch after them stays aligned for SIMD loads. */
const REGION_ALIGN = 64;
/** Largest region: wasm32 memory is at most 4 GiB, less the static data and the reserve. */
const REGION_MAX = 2 ** 32 - (8 << 20);

/** Where the compiled module comes from: bytes (Node, browsers) or a precompiled module (workerd). */
export type ModuleSource = (simd: boolean) => Promise<WebAssembly.Module> | WebAssembly.Module;

/**
 * One instantiated kernels module. Every wrapper (blake3.ts, crc32.ts,
 * chunker.ts) takes one of these, so a test can drive the SIMD and the scalar
 * build side by side.
 */
export class KernelInstance {
  private view = new Uint8Array(0);
  /** The caller's region [at, at + size), at the start of the heap; scratch starts `offset` bytes later. */
  private region = { at: 0, size: 0, offset: 0 };
  /** Every memory buffer allocInput handed out a view of: a view of one that is not current is detached. */
  private readonly handedOut = new WeakSet<ArrayBufferLike>();

  constructor(
    readonly exports: KernelExports,
    /** True when this is the wasm SIMD build. */
    readonly simd: boolean,
  ) {}

  /** Ensures `size` bytes of scratch (after the allocInput region) and returns its address. Memory may grow: re-take views after. */
  scratch(size: number): number {
    const { offset } = this.region;
    return this.exports.scratch(offset + size) + offset;
  }

  /**
   * The region of kernel memory for inputs the caller writes in place (see
   * `Kernels.allocInput`): `size` bytes at the start of the heap, then
   * SCRATCH_RESERVE bytes of scratch, memory grown once for both. A later
   * call replaces the region (same start, so bytes up to the smaller size stay).
   */
  allocInput(size: number): Uint8Array {
    checkRange('size', size, 0, REGION_MAX);
    const offset = Math.ceil(size / REGION_ALIGN) * REGION_ALIGN;
    let at: number;
    try {
      at = this.exports.scratch(offset + SCRATCH_RESERVE);
    } catch (cause) {
      throw new DeltaflareError('INVALID_ARGUMENT', `cannot grow kernel memory for a region of ${size} bytes`, { cause });
    }
    this.region = { at, size, offset };
    const buffer = this.exports.memory.buffer;
    this.handedOut.add(buffer);
    return new Uint8Array(buffer, at, size);
  }

  /**
   * Where `bytes` lies in kernel memory when it is inside the allocInput
   * region (kernels then read it in place), or -1 for any other array (it is
   * copied in). Throws INVALID_ARGUMENT for a region view that memory growth
   * detached, and for a view of kernel memory outside the region (scratch,
   * which the kernels overwrite while reading it).
   */
  locate(bytes: Uint8Array): number {
    const buffer = bytes.buffer;
    if (buffer !== this.exports.memory.buffer) {
      if (this.handedOut.has(buffer)) {
        throw new DeltaflareError(
          'INVALID_ARGUMENT',
          'the view from allocInput() is detached: kernel memory grew since (a call needed more than its ' +
            `${SCRATCH_RESERVE} B scratch reserve); call allocInput() again for a fresh view (the region keeps its bytes)`,
        );
      }
      return -1;
    }
    const { at, size } = this.region;
    const start = bytes.byteOffset,
      end = start + bytes.length;
    if (start < at || end > at + size) {
      throw new DeltaflareError(
        'INVALID_ARGUMENT',
        `input [${start}, ${end}) of kernel memory is outside the allocInput() region [${at}, ${at + size}): kernels would overwrite it`,
      );
    }
    return start;
  }

  /**
   * Feeds `bytes` to a kernel in pieces copied into scratch, so an input of
   * any size needs only PIECE bytes of wasm memory. `fn(ptr, len)` runs once
   * per piece, in order. The pieces stay cache-resident (128 KiB < L2), so the
   * copy costs a few percent of a kernel's time, not a second pass over RAM.
   * An input in the allocInput region goes in one call, in place.
   */
  feed(bytes: Uint8Array, fn: (ptr: number, len: number) => void, at = 0): void {
    const where = this.locate(bytes);
    if (where >= 0) {
      if (bytes.length) fn(where, bytes.length);
      return;
    }
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
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

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
