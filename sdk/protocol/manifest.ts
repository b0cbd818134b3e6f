// A version's manifest: its chunks (length, CRC32, BLAKE3) under one chunking
// spec. The server stores one at every commit (SkySync: the next sync matches
// against it without re-reading or re-hashing the old file).
//
// The file digest is the BLAKE3 of the concatenated chunk digests (the
// manifest root), so a server can verify a rebuilt file from hashes it already
// has: copied chunks keep their stored digests, only literal bytes are hashed.
import type { ChunkingSpec } from './chunking.js';

export interface Manifest {
  chunking: ChunkingSpec;
  /** File size in bytes: the sum of `lengths`. */
  size: number;
  /** Chunk i has length lengths[i]; offsets are the running sums. */
  lengths: Uint32Array;
  crcs: Uint32Array;
  /** 32 bytes per chunk. */
  hashes: Uint8Array;
}

/** The chunk offsets of a manifest (n + 1 entries; the last is the size). */
export function chunkOffsets(m: Pick<Manifest, 'lengths'>): Float64Array {
  const offsets = new Float64Array(m.lengths.length + 1);
  for (let i = 0; i < m.lengths.length; i++) offsets[i + 1] = offsets[i] + m.lengths[i];
  return offsets;
}

/** The digest of chunk i (a view, not a copy). */
export function chunkHash(m: Pick<Manifest, 'hashes'>, i: number): Uint8Array {
  return m.hashes.subarray(i * 32, i * 32 + 32);
}
