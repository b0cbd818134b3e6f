// Basis manifests for matching and commit checks (as in SkySync, FAST '26: match against the
// stored manifest, never re-read or re-hash the old file). A manifest is
// looked up in the store under the session's chunking; a version with none
// gets one built once (manifest-builder.ts) and stored. Decoded manifests and
// their weak index stay in a bounded LRU, so the batches of one session
// (and the commit) do not decode or index it again.
import type { Limits } from '../core/base/limits.js';
import type { Kernels } from '../core/kernels/api.js';
import { chunkingId, type ChunkingSpec } from '../core/protocol/chunking.js';
import type { Manifest } from '../core/protocol/manifest.js';
import { WeakIndex } from '../core/protocol/match.js';
import { buildManifest } from './manifest-builder.js';
import type { Store } from './store/store.js';
import { Semaphore } from '../core/base/semaphore.js';
import { ApiError } from './errors.js';
import { toHex } from '../core/protocol/hex.js';

/** A basis manifest and (made on first use) its weak index. */
export class BasisEntry {
  private weak?: WeakIndex;
  private rootHex?: string;
  constructor(readonly manifest: Manifest) {}
  /** The manifest root (BLAKE3 of its digests, hex), hashed once per entry (32 MB for 2^20 chunks). */
  root(kernels: Kernels): string {
    this.rootHex ??= toHex(kernels.blake3(this.manifest.hashes));
    return this.rootHex;
  }
  /** The CRC-sorted index: 12 more bytes per chunk, built once per entry. */
  get index(): WeakIndex {
    this.weak ??= new WeakIndex(this.manifest);
    return this.weak;
  }
}

/**
 * An LRU of basis manifests bounded by their total chunk count, with one
 * build at a time per (key, version, chunking).
 * @example const { manifest, index } = await cache.get('a.bin', 'v-1', spec)
 */
export class ManifestCache {
  private readonly entries = new Map<string, BasisEntry>();
  private readonly pending = new Map<string, Promise<BasisEntry>>();
  private chunks = 0;

  /** Builds read a whole version and hold its manifest: one at a time, the others wait. */
  private readonly builds = new Semaphore(1);

  constructor(
    private readonly store: Store,
    private readonly kernels: Kernels,
    /** Total chunks kept; one manifest above it is kept alone. */
    private readonly maxChunks: number,
    private readonly limits: Pick<Limits, 'maxManifestChunks' | 'maxChunkingsPerVersion'>,
  ) {}

  /** The manifest of `key` at `version` under `chunking`, building and storing it if the store has none. */
  async get(key: string, version: string, chunking: ChunkingSpec): Promise<BasisEntry> {
    const id = `${version}\n${chunkingId(chunking)}\n${key}`;
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id); // re-insert: Map order is the LRU order
      this.entries.set(id, hit);
      return hit;
    }
    let p = this.pending.get(id);
    if (!p) {
      p = this.load(key, version, chunking).then((entry) => {
        this.remember(id, entry);
        return entry;
      });
      this.pending.set(id, p);
      p.finally(() => this.pending.delete(id)).catch(() => undefined);
    }
    return p;
  }

  private async load(key: string, version: string, chunking: ChunkingSpec): Promise<BasisEntry> {
    const cid = chunkingId(chunking);
    let manifest = await this.store.getManifest(key, version, cid);
    if (!manifest) {
      const kept = await this.store.listManifests(key, version);
      const max = this.limits.maxChunkingsPerVersion;
      if (kept.length >= max) {
        throw new ApiError(
          'INVALID_ARGUMENT',
          `${JSON.stringify(key)} has manifests for ${kept.length} chunkings (${kept.join(', ')}), the limit maxChunkingsPerVersion ${max}: push with one of them`,
        );
      }
      manifest = await this.builds.run(() => buildManifest(this.store, this.kernels, key, version, chunking, this.limits.maxManifestChunks));
      await this.store.putManifest(key, version, manifest);
    }
    return new BasisEntry(manifest);
  }

  /**
   * Drops the entries of `key` at `version` (a commit superseded it): no new
   * session diffs against it, and kept it held ~56 B/chunk (7 MB for 1 GiB
   * at 8 KiB chunks) through the next push's peak.
   */
  forget(key: string, version: string): void {
    for (const [id, e] of this.entries) {
      if (id.startsWith(`${version}\n`) && id.endsWith(`\n${key}`)) {
        this.entries.delete(id);
        this.chunks -= e.manifest.lengths.length;
      }
    }
  }

  /**
   * Keeps `entry`, evicting the least recently used past maxChunks. A manifest
   * larger than maxChunks alone is kept alone: it is held in memory while any
   * batch uses it anyway, and dropping it made every match batch of the push
   * read and decode it again (a 4 GiB delta push on Workers read 1.1 GiB of
   * manifests for an 8 MiB change).
   */
  private remember(id: string, entry: BasisEntry): void {
    const n = entry.manifest.lengths.length;
    if (n > this.maxChunks) {
      this.entries.clear();
      this.chunks = 0;
    }
    this.entries.set(id, entry);
    this.chunks += n;
    for (const [old, e] of this.entries) {
      if (this.chunks <= this.maxChunks || old === id) break;
      this.entries.delete(old);
      this.chunks -= e.manifest.lengths.length;
    }
  }
}
