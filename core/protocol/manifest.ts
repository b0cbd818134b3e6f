// A version's manifest: its chunks (length, CRC32, BLAKE3) under one chunking
// spec. The server stores one at every commit, so the next sync matches
// against it without re-reading or re-hashing the old file (the storage
// layer's own checksums reused, as in SkySync, FAST '26).
//
// The file digest is the BLAKE3 of the concatenated chunk digests (the
// manifest root), so a server can verify a rebuilt file from hashes it already
// has: copied chunks keep their stored digests, only literal bytes are hashed.
import { checkRange, DeltaflareError } from '../base/errors.js';
import { FIXED_BLOCK_MIN, WIRE_LIMITS } from '../base/limits.js';
import { resolveOptions } from '../kernels/chunker.js';
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

// Binary form of a manifest, for storage (little-endian throughout):
//   0  4 B   magic "DFM1"
//   4  4 B   u32 chunking kind: 0 = cdc, 1 = fixed
//   8  16 B  u32 x 4: cdc min, avg, max, level | fixed block, 0, 0, 0
//  24  8 B   u64 size
//  32  4 B   u32 chunk count n
//  36  4n B  lengths, then 4n B crcs, then 32n B hashes
const MANIFEST_MAGIC = 0x314d4644; // "DFM1" read as a little-endian u32
const MANIFEST_HEADER = 36;

/** Encodes a manifest as bytes (36 + 40 per chunk). */
export function encodeManifest(m: Manifest): Uint8Array {
  return gather(manifestPieces(m, 0));
}

/**
 * A manifest's encoding (digestBytes 0: the full form; 1..32: the short
 * form), made piece by piece as it is read: its length, and pieces of at
 * most PIECE_CHUNKS chunks' worth (a digest run of the full form is a view of
 * `m.hashes`, not a copy). An endpoint streams a manifest of a million
 * chunks to many readers holding one piece each, not one encoding each.
 */
export function manifestPieces(m: Manifest, digestBytes: number): { length: number; pieces(): Generator<Uint8Array> } {
  const n = m.lengths.length;
  const full = digestBytes === 0;
  if (full && (m.crcs.length !== n || m.hashes.length !== n * 32)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `manifest has ${n} lengths, ${m.crcs.length} crcs and ${m.hashes.length} hash bytes (want ${n * 32})`);
  }
  if (!full && !(Number.isInteger(digestBytes) && digestBytes >= 1 && digestBytes <= 32)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `digestBytes ${digestBytes} is outside 1..32`);
  }
  const fixed = m.chunking.kind === 'fixed';
  const header = full ? MANIFEST_HEADER : SHORT_HEADER;
  const length = full ? MANIFEST_HEADER + 40 * n : SHORT_HEADER + (fixed ? 0 : 4 * n) + digestBytes * n;
  function* pieces(): Generator<Uint8Array> {
    const head = new Uint8Array(header);
    const v = new DataView(head.buffer);
    writeHeader(v, full ? MANIFEST_MAGIC : SHORT_MAGIC, m);
    if (!full) v.setUint32(36, digestBytes, true);
    yield head;
    const words = function* (a: Uint32Array) {
      for (let i = 0; i < n; i += PIECE_CHUNKS) {
        const part = a.subarray(i, Math.min(n, i + PIECE_CHUNKS));
        const out = new Uint8Array(4 * part.length);
        const w = new DataView(out.buffer);
        for (let j = 0; j < part.length; j++) w.setUint32(4 * j, part[j], true);
        yield out;
      }
    };
    if (full || !fixed) yield* words(m.lengths);
    if (full) {
      yield* words(m.crcs);
      for (let i = 0; i < n; i += PIECE_CHUNKS) yield m.hashes.subarray(32 * i, 32 * Math.min(n, i + PIECE_CHUNKS));
      return;
    }
    for (let i = 0; i < n; i += PIECE_CHUNKS) {
      const end = Math.min(n, i + PIECE_CHUNKS);
      const out = new Uint8Array(digestBytes * (end - i));
      for (let j = i; j < end; j++) out.set(m.hashes.subarray(32 * j, 32 * j + digestBytes), digestBytes * (j - i));
      yield out;
    }
  }
  return { length, pieces };
}

/** Chunks per piece of a streamed manifest: 16,384 x 32-byte digests = 512 KiB at most. */
const PIECE_CHUNKS = 16384;

/** The pieces of `manifestPieces` in one array. */
function gather(p: { length: number; pieces(): Generator<Uint8Array> }): Uint8Array {
  const out = new Uint8Array(p.length);
  let at = 0;
  for (const piece of p.pieces()) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** Magic, chunking, size and chunk count: the first 36 bytes of both forms. */
function writeHeader(v: DataView, magic: number, m: Pick<Manifest, 'chunking' | 'size' | 'lengths'>): void {
  v.setUint32(0, magic, true);
  const c = m.chunking;
  const params = c.kind === 'cdc' ? [c.min, c.avg, c.max, c.level] : [c.block, 0, 0, 0];
  v.setUint32(4, c.kind === 'cdc' ? 0 : 1, true);
  for (const [i, p] of params.entries()) v.setUint32(8 + 4 * i, p, true);
  v.setBigUint64(24, BigInt(m.size), true);
  v.setUint32(32, m.lengths.length, true);
}

/** Decodes `encodeManifest` output; throws INVALID_ARGUMENT naming the first thing that is wrong. */
export function decodeManifest(bytes: Uint8Array): Manifest {
  const bad = (why: string) => new DeltaflareError('INVALID_ARGUMENT', `manifest bytes: ${why}`);
  if (bytes.length < MANIFEST_HEADER) throw bad(`${bytes.length} bytes is shorter than the ${MANIFEST_HEADER}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== MANIFEST_MAGIC) throw bad('magic is not "DFM1"');
  const kind = v.getUint32(4, true);
  const p = [0, 1, 2, 3].map((i) => v.getUint32(8 + 4 * i, true));
  let chunking: ChunkingSpec;
  if (kind === 0) chunking = { kind: 'cdc', min: p[0], avg: p[1], max: p[2], level: p[3] };
  else if (kind === 1) chunking = { kind: 'fixed', block: p[0] };
  else throw bad(`chunking kind ${kind} is neither 0 (cdc) nor 1 (fixed)`);
  const size = v.getBigUint64(24, true);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`size ${size} is above 2^53 - 1`);
  const n = v.getUint32(32, true);
  const want = MANIFEST_HEADER + 40 * n;
  if (bytes.length !== want) throw bad(`${bytes.length} bytes, want ${want} for ${n} chunks`);
  const lengths = new Uint32Array(n);
  const crcs = new Uint32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    lengths[i] = v.getUint32(MANIFEST_HEADER + 4 * i, true);
    crcs[i] = v.getUint32(MANIFEST_HEADER + 4 * n + 4 * i, true);
    if (lengths[i] === 0) throw bad(`chunk ${i} has length 0`);
    sum += lengths[i];
  }
  if (sum !== Number(size)) throw bad(`chunk lengths sum to ${sum}, not the size ${size}`);
  const hashes = bytes.slice(MANIFEST_HEADER + 8 * n, want);
  return { chunking, size: Number(size), lengths, crcs, hashes };
}

/**
 * The short form a pulling client reads (`GET /v1/manifests/:key?digest=N`):
 * the chunk lengths (none for fixed blocks: all `block` but the last) and the
 * first `digestBytes` of each BLAKE3 digest, no CRCs. 8 digest bytes make a
 * 108 MiB file's manifest 12 bytes a chunk (166 KB at 8 KiB) instead of 40;
 * the client checks the whole against the version's root at the end.
 */
export interface ShortManifest {
  chunking: ChunkingSpec;
  size: number;
  lengths: Uint32Array;
  digestBytes: number;
  /** `digestBytes` per chunk. */
  digests: Uint8Array;
}

const SHORT_MAGIC = 0x31534644; // "DFS1" read as a little-endian u32
export const SHORT_HEADER = 40; // the full form's 36, then u32 digestBytes

/** The most bytes a short manifest of at most `maxChunks` chunks with `digestBytes` per digest can take. */
export function shortManifestBound(maxChunks: number, digestBytes: number): number {
  return SHORT_HEADER + maxChunks * (4 + digestBytes);
}

/** Encodes the short form of `m` with `digestBytes` (1..32) of each digest. */
export function encodeShortManifest(m: Manifest, digestBytes: number): Uint8Array {
  return gather(manifestPieces(m, digestBytes));
}

/**
 * Decodes `encodeShortManifest` output; MALFORMED naming the first thing that
 * is wrong. Its header is checked before anything is allocated: the digest
 * length is the one asked for, the chunking within the kernels' ranges, the
 * chunk count at most `expect.maxChunks` and one the size allows (no chunk
 * empty or longer than the chunking's largest).
 */
export function decodeShortManifest(bytes: Uint8Array, expect: { digestBytes?: number; maxChunks?: number } = {}): ShortManifest {
  const bad = (why: string) => new DeltaflareError('MALFORMED', `short manifest bytes: ${why}`);
  if (bytes.length < SHORT_HEADER) throw bad(`${bytes.length} bytes is shorter than the ${SHORT_HEADER}-byte header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== SHORT_MAGIC) throw bad('magic is not "DFS1"');
  const kind = v.getUint32(4, true);
  const p = [0, 1, 2, 3].map((i) => v.getUint32(8 + 4 * i, true));
  if (kind > 1) throw bad(`chunking kind ${kind} is neither 0 (cdc) nor 1 (fixed)`);
  const chunking: ChunkingSpec = kind === 0 ? { kind: 'cdc', min: p[0], avg: p[1], max: p[2], level: p[3] } : { kind: 'fixed', block: p[0] };
  const size = Number(v.getBigUint64(24, true));
  if (!Number.isSafeInteger(size)) throw bad('size is above 2^53 - 1');
  const n = v.getUint32(32, true);
  const digestBytes = v.getUint32(36, true);
  if (digestBytes < 1 || digestBytes > 32) throw bad(`digestBytes ${digestBytes} is outside 1..32`);
  if (expect.digestBytes !== undefined && digestBytes !== expect.digestBytes) throw bad(`digestBytes ${digestBytes}, not the ${expect.digestBytes} asked for`);
  let largest: number;
  try {
    largest = chunkingLargest(chunking);
  } catch (e) {
    throw bad(`chunking ${JSON.stringify(chunking)} is outside the kernels' ranges (${(e as Error).message.replace(/^deltaflare: /, '')})`);
  }
  if (expect.maxChunks !== undefined && n > expect.maxChunks) throw bad(`${n} chunks, over the ${expect.maxChunks} this pull takes (maxChunks)`);
  if (n > size || n < Math.ceil(size / largest)) throw bad(`${n} chunks cannot hold ${size} bytes in chunks of 1..${largest}`);
  const fixed = chunking.kind === 'fixed';
  const want = SHORT_HEADER + (fixed ? 0 : 4 * n) + digestBytes * n;
  if (bytes.length !== want) throw bad(`${bytes.length} bytes, want ${want} for ${n} chunks`);
  const lengths = new Uint32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    lengths[i] = fixed ? Math.min(p[0], size - sum) : v.getUint32(SHORT_HEADER + 4 * i, true);
    if (lengths[i] === 0 || lengths[i] > largest) throw bad(`chunk ${i} has length ${lengths[i]}, outside 1..${largest}`);
    sum += lengths[i];
  }
  if (sum !== size) throw bad(`chunk lengths sum to ${sum}, not the size ${size}`);
  const digests = bytes.slice(want - digestBytes * n, want);
  return { chunking, size, lengths, digestBytes, digests };
}

/** The largest chunk `c` cuts; INVALID_ARGUMENT naming the parameter if `c` is outside the kernels' ranges (the chunker's own check). */
function chunkingLargest(c: ChunkingSpec): number {
  if (c.kind === 'fixed') {
    checkRange('fixed block', c.block, FIXED_BLOCK_MIN, WIRE_LIMITS.maxChunkLength);
    return c.block;
  }
  const { min, avg, max } = resolveOptions(c);
  if (min > avg) throw new DeltaflareError('INVALID_ARGUMENT', `min ${min} is above avg ${avg}`);
  return max;
}
