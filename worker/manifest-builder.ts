// Building a manifest for a version that has none under the asked chunking
// (a file placed in the store by hand, or a client with another chunking):
// the file is streamed once through the kernels, in bounded memory: the
// streaming FastCDC chunker holds at most max + 512 KiB, fixed blocks are
// gathered into a 1 MiB window and hashed with one blake3Chunks call.
import type { Kernels } from '../core/kernels/api.js';
import { type ChunkingSpec, chunkingId } from '../core/protocol/chunking.js';
import { ApiError } from './errors.js';
import type { Manifest } from '../core/protocol/manifest.js';
import type { Store } from './store/store.js';

/** Fixed blocks are hashed a window at a time: 1 MiB amortises the wasm call over 256 blocks of 4 KiB. */
const FIXED_WINDOW = 1 << 20;

/** Arrays of chunk records that double as they fill (40 bytes per chunk in the end). */
class ChunkList {
  lengths = new Uint32Array(1024);
  crcs = new Uint32Array(1024);
  hashes = new Uint8Array(1024 * 32);
  count = 0;

  constructor(
    private readonly max: number,
    private readonly what: string,
  ) {}

  add(length: number, crc: number, hash: Uint8Array): void {
    if (this.count >= this.max)
      throw new ApiError('TOO_LARGE', `${this.what} has more than ${this.max} chunks, the limit maxManifestChunks: use larger chunks`);
    if (this.count === this.lengths.length) {
      const grow = <T extends Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.lengths = grow(this.lengths, (n) => new Uint32Array(n));
      this.crcs = grow(this.crcs, (n) => new Uint32Array(n));
      this.hashes = grow(this.hashes, (n) => new Uint8Array(n));
    }
    this.lengths[this.count] = length;
    this.crcs[this.count] = crc;
    this.hashes.set(hash, this.count * 32);
    this.count++;
  }

  manifest(chunking: ChunkingSpec, size: number): Manifest {
    const n = this.count;
    return { chunking, size, lengths: this.lengths.slice(0, n), crcs: this.crcs.slice(0, n), hashes: this.hashes.slice(0, n * 32) };
  }
}

/**
 * Reads `key` at `version` once and returns its manifest under `chunking`
 * (not stored: the caller puts it).
 * @example const m = await buildManifest(store, k, 'disk.img', info.id, { kind: 'fixed', block: 4096 }, limits.maxManifestChunks)
 */
export async function buildManifest(
  store: Store,
  kernels: Kernels,
  key: string,
  version: string,
  chunking: ChunkingSpec,
  maxChunks: number,
): Promise<Manifest> {
  const { info, body } = await store.read(key, { version });
  const list = new ChunkList(maxChunks, `${JSON.stringify(key)} under ${chunkingId(chunking)}`);
  const reader = body.getReader();
  const pump = async (each: (piece: Uint8Array) => void): Promise<void> => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      each(value);
    }
  };
  if (chunking.kind === 'cdc') {
    const { min, avg, max, level } = chunking;
    const chunker = kernels.createChunker({ min, avg, max, level, blake3: true });
    const take = (chunks: ReturnType<typeof chunker.push>) => {
      for (const c of chunks) list.add(c.length, c.crc32, c.blake3!);
    };
    await pump((piece) => take(chunker.push(piece)));
    take(chunker.finish());
  } else {
    const block = chunking.block;
    const window = new Uint8Array(Math.max(1, Math.floor(FIXED_WINDOW / block)) * block);
    let filled = 0;
    const flush = () => {
      const n = Math.ceil(filled / block);
      if (n === 0) return;
      const ends = new Uint32Array(n);
      for (let i = 0; i < n; i++) ends[i] = Math.min(filled, (i + 1) * block);
      const bytes = window.subarray(0, filled);
      const digests = kernels.blake3Chunks(bytes, ends);
      for (let i = 0; i < n; i++) {
        const start = i * block;
        list.add(ends[i] - start, kernels.crc32(bytes.subarray(start, ends[i])), digests.subarray(i * 32, i * 32 + 32));
      }
      filled = 0;
    };
    await pump((piece) => {
      for (let at = 0; at < piece.length; ) {
        const take = Math.min(piece.length - at, window.length - filled);
        window.set(piece.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === window.length) flush();
      }
    });
    flush();
  }
  return list.manifest(chunking, info.size);
}
