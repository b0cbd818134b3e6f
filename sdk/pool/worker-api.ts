// What a pool worker does, runtime-neutral: the entry files (node-worker.ts,
// browser-worker.ts) only expose this object over comlink. Buffers come in
// and go out transferred, never copied.
import { transfer } from 'comlink';
import { type ChunkOptions, init, type Kernels } from '../kernels/index.js';

let kernels: Kernels | undefined;
const k = (): Kernels => {
  if (!kernels) throw new Error('worker used before init()');
  return kernels;
};

export const workerApi = {
  /** Loads the kernels in this worker; returns whether the SIMD build runs. */
  async init(): Promise<boolean> {
    kernels ??= await init();
    return kernels.simd;
  },
  /** FastCDC-2020 chunks of a whole buffer: lengths, CRCs and 32-byte BLAKE3s as flat arrays. */
  chunk(bytes: Uint8Array, options: ChunkOptions) {
    const chunks = k().chunk(bytes, { ...options, blake3: true });
    const lengths = Uint32Array.from(chunks, (c) => c.length);
    const crcs = Uint32Array.from(chunks, (c) => c.crc32);
    const hashes = new Uint8Array(chunks.length * 32);
    chunks.forEach((c, i) => hashes.set(c.blake3!, i * 32));
    return transfer({ lengths, crcs, hashes }, [lengths.buffer, crcs.buffer, hashes.buffer]);
  },
  /** BLAKE3 of consecutive chunks of `bytes` ending at `ends`. */
  blake3Chunks(bytes: Uint8Array, ends: Uint32Array): Uint8Array {
    const digests = k().blake3Chunks(bytes, ends);
    return transfer(digests, [digests.buffer]);
  },
};

export type WorkerApi = typeof workerApi;
