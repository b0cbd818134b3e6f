// PLACEHOLDER until the FastCDC kernel lands (issue 2): signatures only.
import type { KernelInstance } from './instance.js';

export interface ChunkOptions {
  /** Smallest chunk, bytes (64..1 MiB, default 2048). */
  min?: number;
  /** Target average, bytes (256..4 MiB, default 8192). */
  avg?: number;
  /** Largest chunk, bytes (1 KiB..16 MiB, default 65536). */
  max?: number;
  /** Normalization level 0-3 (default 1). */
  level?: number;
  /** Also compute each chunk's BLAKE3 digest. */
  blake3?: boolean;
}
export interface Chunk {
  offset: number;
  length: number;
  crc32: number;
  blake3?: Uint8Array;
}
const todo = (): never => {
  throw new Error('FastCDC kernel not built yet');
};
export function chunk(_k: KernelInstance, _bytes: Uint8Array, _options?: ChunkOptions): Chunk[] {
  return todo();
}
export class Chunker {
  constructor(readonly k: KernelInstance, _options?: ChunkOptions) {}
  push(_bytes: Uint8Array): Chunk[] {
    return todo();
  }
  finish(): Chunk[] {
    return todo();
  }
}
