// How a file is cut into chunks. Both sides must use the same spec for a sync:
// the server keeps each version's manifest under the spec it was built with
// and builds another on first use when a client asks for a different one.
import { CDC_DEFAULTS, MAX_SCALED_CHUNK } from '../base/limits.js';

/** Content-defined chunking (FastCDC-2020) or fixed-size blocks. */
export type ChunkingSpec =
  | {
      /** FastCDC-2020: boundaries follow the content, so an insertion moves none but its neighbours'. */
      kind: 'cdc';
      /** Smallest chunk, bytes (default 2 KiB; 64 B..1 MiB). */
      min: number;
      /** Target average chunk, bytes (default 8 KiB; 256 B..4 MiB). */
      avg: number;
      /** Largest chunk, bytes (default 64 KiB; 1 KiB..16 MiB). */
      max: number;
      /** Normalization level 0..3 (default 1): higher keeps chunk sizes closer to `avg`. */
      level: number;
    }
  | {
      /** Fixed-size blocks: for block-aligned data (disk images) whose edits never shift bytes. */
      kind: 'fixed';
      /** Block size, bytes. */
      block: number;
    };

/** Defaults: FastCDC-2020 with the reference's level 1, 2/8/64 KiB. */
export const DEFAULT_CHUNKING: ChunkingSpec = { kind: 'cdc', ...CDC_DEFAULTS };

/** Chunks `spec` cuts a file of `size` bytes into: exact for fixed blocks, the expected count (size / avg) for CDC. */
export function expectedChunks(size: number, spec: ChunkingSpec): number {
  return Math.ceil(size / (spec.kind === 'fixed' ? spec.block : spec.avg));
}

/**
 * The default chunking for a file of `size` bytes under a server's
 * maxManifestChunks: DEFAULT_CHUNKING, its sizes doubled until the file fits
 * (an 8 GiB file keeps 8 KiB chunks under 2^20 of them, a 64 GiB one gets 64 KiB).
 */
export function chunkingFor(size: number, maxManifestChunks: number): ChunkingSpec {
  let spec = DEFAULT_CHUNKING as ChunkingSpec & { kind: 'cdc' };
  while (expectedChunks(size, spec) > maxManifestChunks && spec.max * 2 <= MAX_SCALED_CHUNK) {
    spec = { ...spec, min: spec.min * 2, avg: spec.avg * 2, max: spec.max * 2 };
  }
  return spec;
}

/** A stable text form, used as part of storage names and in messages: "cdc-2048-8192-65536-1", "fixed-4096". */
export function chunkingId(spec: ChunkingSpec): string {
  return spec.kind === 'cdc' ? `cdc-${spec.min}-${spec.avg}-${spec.max}-${spec.level}` : `fixed-${spec.block}`;
}

/** The spec a chunkingId names, or null for text that is not one. @example parseChunkingId('fixed-4096') */
export function parseChunkingId(id: string): ChunkingSpec | null {
  const fixed = /^fixed-(\d{1,9})$/.exec(id);
  if (fixed) return { kind: 'fixed', block: Number(fixed[1]) };
  const cdc = /^cdc-(\d{1,9})-(\d{1,9})-(\d{1,9})-(\d)$/.exec(id);
  return cdc ? { kind: 'cdc', min: Number(cdc[1]), avg: Number(cdc[2]), max: Number(cdc[3]), level: Number(cdc[4]) } : null;
}
