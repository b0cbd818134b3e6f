// How a file is cut into chunks. Both sides must use the same spec for a sync:
// the server keeps each version's manifest under the spec it was built with
// and builds another on first use when a client asks for a different one.

/** Content-defined chunking (FastCDC-2020) or fixed-size blocks. */
export type ChunkingSpec =
  | { kind: 'cdc'; min: number; avg: number; max: number; level: number }
  | { kind: 'fixed'; block: number };

/**
 * Smallest fixed block, bytes, for client and server alike: below 64 the
 * 4-byte CRC of a signature outweighs the data it describes. The largest is
 * WIRE_LIMITS.maxChunkLength (and, on a server, its part size).
 */
export const FIXED_BLOCK_MIN = 64;

/** Defaults: FastCDC-2020 with the reference's level 1, 2/8/64 KiB. */
export const DEFAULT_CHUNKING: ChunkingSpec = { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 };

/** A stable text form, used as part of storage names and in messages: "cdc-2048-8192-65536-1", "fixed-4096". */
export function chunkingId(spec: ChunkingSpec): string {
  return spec.kind === 'cdc' ? `cdc-${spec.min}-${spec.avg}-${spec.max}-${spec.level}` : `fixed-${spec.block}`;
}
