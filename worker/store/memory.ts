// The in-memory store: the dependency-free reference the shared suite holds
// every backend to, and a fast store for tests of the server. It keeps whole
// files in memory, so it is for tests only; it passes the same suite as the
// fs store (test/worker/store/suite.ts) apart from the fs-only behaviours (hand-placed
// files, links, durability).
import { chunkingId } from '../../core/protocol/chunking.js';
import { type Manifest, decodeManifest, encodeManifest } from '../../core/protocol/manifest.js';
import { randomHex as hex } from '../../core/protocol/hex.js';
import { KeyLocks } from './key-lock.js';
import { validateKey, validatePrefix } from './keys.js';
import {
  type CommitOptions,
  type ListPage,
  ORPHAN_AGE_MS,
  type SessionRecord,
  type Staging,
  type Store,
  StoreError,
  type VersionInfo,
  checkBlob,
  checkReadLength,
  checkSessionId,
  checkSpan,
  encodeSession,
  checkListLimit,
  checkRoot,
  checkStagingSize,
  conflict,
} from './store.js';

interface Entry {
  info: VersionInfo;
  /** Never mutated once committed: readers of an old version keep their array. */
  data: Uint8Array;
  /** `${version}.${chunkingId}` -> encodeManifest bytes (stored encoded, as a real backend would). */
  manifests: Map<string, Uint8Array>;
  /** In-place rewrite in progress: its working copy becomes `data` at commit. */
  inPlace?: { id: string; basis: string; work: Uint8Array; created: number; active: boolean };
}

/** Bytes per stream chunk, as in the fs store (256 KiB). */
const PIECE = 256 << 10;

/**
 * A Store in memory.
 *
 * @example
 * const store = new MemoryStore();
 * const s = await store.createStaging(3);
 * await s.writeAt(0, new Uint8Array([1, 2, 3]));
 * await store.commit('k', s.id, { expectedVersion: null });
 */
export class MemoryStore implements Store {
  private readonly entries = new Map<string, Entry>();
  private readonly stagings = new Map<string, { data: Uint8Array; touched: number }>();
  private readonly sessions = new Map<string, string>();
  private readonly blobs = new Map<string, Map<string, Uint8Array>>();
  private readonly locks = new KeyLocks();
  /** In-place handle ids whose key was since committed or deleted: their calls fail with CONFLICT, as in the fs store. */
  private readonly retired = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  async head(key: string): Promise<VersionInfo | null> {
    validateKey(key);
    const e = this.entries.get(key);
    return e ? { ...e.info } : null;
  }

  async read(key: string, opts: { version?: string; offset?: number; length?: number } = {}) {
    const e = this.readable(key, opts.version);
    const offset = opts.offset ?? 0;
    const length = opts.length ?? Math.max(0, e.info.size - offset);
    checkSpan(`read ${JSON.stringify(key)}`, offset, length, e.info.size);
    const data = e.data;
    let pos = offset;
    const end = offset + length;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pos >= end) return c.close();
        const n = Math.min(PIECE, end - pos);
        c.enqueue(data.slice(pos, pos + n));
        pos += n;
      },
    });
    return { info: { ...e.info }, body };
  }

  async readRange(key: string, version: string, offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readRange', length);
    const e = this.readable(key, version);
    checkSpan(`readRange ${JSON.stringify(key)}`, offset, length, e.info.size);
    return e.data.slice(offset, offset + length);
  }

  async list(prefix: string, limit: number, cursor?: string): Promise<ListPage> {
    validatePrefix(prefix);
    checkListLimit(limit);
    const keys = [...this.entries.keys()]
      .filter((k) => k.startsWith(prefix) && (cursor === undefined || k > cursor))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const entries = keys.slice(0, limit).map((key) => ({ key, version: { ...this.entries.get(key)!.info } }));
    return keys.length > limit ? { entries, cursor: keys[limit - 1] } : { entries };
  }

  async delete(key: string, expectedVersion?: string): Promise<void> {
    validateKey(key);
    await this.locks.run(key, async () => {
      const e = this.entries.get(key);
      if (!e) throw notFound(key);
      if (expectedVersion !== undefined && e.info.id !== expectedVersion) throw conflict(key, e.info.id, expectedVersion);
      if (e.inPlace) this.retired.add(e.inPlace.id);
      this.entries.delete(key);
    });
  }

  async getManifest(key: string, version: string, cid: string): Promise<Manifest | null> {
    const e = this.current(key, version);
    const bytes = e.manifests.get(`${version}.${cid}`);
    return bytes ? decodeManifest(bytes) : null;
  }

  async listManifests(key: string, version: string): Promise<string[]> {
    const e = this.current(key, version);
    return [...e.manifests.keys()]
      .filter((id) => id.startsWith(`${version}.`))
      .map((id) => id.slice(version.length + 1))
      .sort();
  }

  async putManifest(key: string, version: string, manifest: Manifest): Promise<void> {
    const e = this.current(key, version);
    if (manifest.size !== e.info.size)
      throw new StoreError('INVALID_ARGUMENT', `manifest size ${manifest.size} is not the size ${e.info.size} of ${JSON.stringify(key)}`);
    e.manifests.set(`${version}.${chunkingId(manifest.chunking)}`, encodeManifest(manifest));
  }

  async createStaging(size: number): Promise<Staging> {
    checkStagingSize(size);
    const id = `st-${hex(16)}`;
    this.stagings.set(id, { data: new Uint8Array(size), touched: this.now() });
    return this.handle(id);
  }

  async staging(id: string): Promise<Staging> {
    if (this.stagings.has(id) || this.inPlaceEntry(id)) return this.handle(id);
    if (!/^(st|ip)-[0-9a-f-]+$/.test(id)) throw new StoreError('INVALID_ARGUMENT', `${JSON.stringify(id)} is not a staging id`);
    throw new StoreError('NOT_FOUND', `staging ${id} does not exist`);
  }

  async openInPlace(key: string, expectedVersion: string): Promise<Staging> {
    validateKey(key);
    return this.locks.run(key, async () => {
      const e = this.entries.get(key);
      if (!e) throw notFound(key);
      if (e.info.incomplete) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} is already being rewritten in place (${e.info.id})`);
      if (e.info.id !== expectedVersion) throw conflict(key, e.info.id, expectedVersion);
      const id = `ip-${hex(32)}-${hex(8)}`;
      e.inPlace = { id, basis: expectedVersion, work: e.data.slice(), created: this.now(), active: true };
      e.info = { id, size: e.data.length, time: e.inPlace.created, incomplete: true };
      return this.handle(id);
    });
  }

  async commit(key: string, stagingId: string, opts: CommitOptions): Promise<VersionInfo> {
    validateKey(key);
    checkRoot(opts.root);
    return this.locks.run(key, async () => {
      const e = this.entries.get(key);
      let data: Uint8Array;
      if (stagingId.startsWith('ip-')) {
        const ip = e?.inPlace;
        if (!e || !ip || ip.id !== stagingId) throw new StoreError('CONFLICT', `in-place rewrite ${stagingId} of ${JSON.stringify(key)} is not active`);
        if (ip.basis !== opts.expectedVersion) throw conflict(key, ip.basis, opts.expectedVersion);
        data = ip.work;
      } else {
        if ((e?.info.id ?? null) !== opts.expectedVersion) throw conflict(key, e?.info.id ?? null, opts.expectedVersion);
        const s = this.stagings.get(stagingId);
        if (!s) throw new StoreError('NOT_FOUND', `staging ${stagingId} does not exist`);
        data = s.data;
      }
      if (opts.manifest && opts.manifest.size !== data.length)
        throw new StoreError('INVALID_ARGUMENT', `manifest size ${opts.manifest.size} is not the staged size ${data.length}`);
      this.stagings.delete(stagingId);
      if (e?.inPlace) this.retired.add(e.inPlace.id);
      const info: VersionInfo = {
        id: `v-${hex(16)}`,
        size: data.length,
        time: this.now(),
        ...(opts.root ? { root: opts.root } : {}),
        ...(opts.metadata ? { metadata: { ...opts.metadata } } : {}),
      };
      const manifests = new Map<string, Uint8Array>();
      if (opts.manifest) manifests.set(`${info.id}.${chunkingId(opts.manifest.chunking)}`, encodeManifest(opts.manifest));
      this.entries.set(key, { info, data, manifests });
      return { ...info };
    });
  }

  async putSession(record: SessionRecord): Promise<void> {
    this.sessions.set(record.id, new TextDecoder().decode(encodeSession(record)));
  }
  async getSession(id: string): Promise<SessionRecord | null> {
    checkSessionId(id);
    const json = this.sessions.get(id);
    return json ? (JSON.parse(json) as SessionRecord) : null;
  }
  async deleteSession(id: string): Promise<void> {
    checkSessionId(id);
    this.sessions.delete(id);
    this.blobs.delete(id);
  }
  async putSessionBlob(id: string, name: string, bytes: Uint8Array): Promise<void> {
    checkSessionId(id);
    checkBlob(name, bytes);
    if (!this.blobs.has(id)) this.blobs.set(id, new Map());
    this.blobs.get(id)!.set(name, bytes.slice());
  }
  async getSessionBlob(id: string, name: string): Promise<Uint8Array | null> {
    checkSessionId(id);
    checkSessionId(name, 'blob name');
    return this.blobs.get(id)?.get(name)?.slice() ?? null;
  }
  async listSessionBlobs(id: string): Promise<string[]> {
    checkSessionId(id);
    return [...(this.blobs.get(id)?.keys() ?? [])].sort();
  }
  async listSessions(): Promise<SessionRecord[]> {
    return [...this.sessions.values()].map((j) => JSON.parse(j) as SessionRecord);
  }

  async sweep(now: number): Promise<string[]> {
    const removed: string[] = [];
    const live = new Set<string>();
    for (const json of this.sessions.values()) {
      const s = JSON.parse(json) as SessionRecord;
      if (s.expires > now) {
        live.add(s.stagingId);
        continue;
      }
      this.stagings.delete(s.stagingId);
      const ip = this.entries.get(s.key)?.inPlace;
      if (ip?.id === s.stagingId) ip.active = false; // the key stays INCOMPLETE
      this.sessions.delete(s.id);
      this.blobs.delete(s.id);
      removed.push(s.id);
    }
    for (const [id, s] of this.stagings) if (!live.has(id) && s.touched < now - ORPHAN_AGE_MS) this.stagings.delete(id);
    return removed;
  }

  // ---- internals ----

  private readable(key: string, version?: string): Entry {
    validateKey(key);
    const e = this.entries.get(key);
    if (!e) throw notFound(key);
    if (e.info.incomplete)
      throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is incomplete (an in-place push has not finished); push it again to complete it`);
    if (version !== undefined && e.info.id !== version) throw conflict(key, e.info.id, version);
    return e;
  }

  private current(key: string, version: string): Entry {
    validateKey(key);
    const e = this.entries.get(key);
    if (!e) throw notFound(key);
    if (e.info.incomplete) throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is incomplete`);
    if (e.info.id !== version) throw conflict(key, e.info.id, version);
    return e;
  }

  private inPlaceEntry(id: string): Entry | undefined {
    for (const e of this.entries.values()) if (e.inPlace?.id === id) return e;
    return undefined;
  }

  /** A handle whose every call looks its target up again, like the fs store's reopen-per-call handles. */
  private handle(id: string): Staging {
    const target = (): { data: Uint8Array; set(d: Uint8Array): void; key?: string; basis?: string } => {
      const s = this.stagings.get(id);
      if (s) return { data: s.data, set: () => undefined };
      const e = this.inPlaceEntry(id);
      if (!e?.inPlace?.active) {
        if (e || this.retired.has(id)) throw new StoreError('CONFLICT', `in-place rewrite ${id} is no longer active (committed, discarded or replaced)`);
        throw new StoreError('NOT_FOUND', `staging ${id} does not exist (committed, discarded or swept)`);
      }
      const ip = e.inPlace;
      const key = [...this.entries].find(([, v]) => v === e)![0];
      return { data: ip.work, set: (d) => (ip.work = d), key, basis: ip.basis };
    };
    const touch = () => {
      const s = this.stagings.get(id);
      if (s) s.touched = this.now();
    };
    return {
      id,
      size: async () => target().data.length,
      writeAt: async (offset, bytes) => {
        const t = target();
        checkSpan('writeAt', offset, bytes.length, t.data.length);
        t.data.set(bytes, offset);
        touch();
      },
      copyFrom: async (sourceKey, sourceVersion, srcOffset, length, dstOffset) => {
        const t = target();
        checkSpan('copyFrom destination', dstOffset, length, t.data.length);
        if (sourceKey === t.key) {
          if (sourceVersion !== t.basis)
            throw new StoreError(
              'CONFLICT',
              `in-place copy from ${JSON.stringify(sourceKey)} names version ${sourceVersion}, but the rewrite started from ${t.basis}`,
            );
          checkSpan('copyFrom source', srcOffset, length, t.data.length);
          t.data.copyWithin(dstOffset, srcOffset, srcOffset + length);
          return;
        }
        const src = this.readable(sourceKey, sourceVersion);
        checkSpan('copyFrom source', srcOffset, length, src.info.size);
        t.data.set(src.data.subarray(srcOffset, srcOffset + length), dstOffset);
        touch();
      },
      readAt: async (offset, length) => {
        checkReadLength('readAt', length);
        const t = target();
        checkSpan('readAt', offset, length, t.data.length);
        return t.data.slice(offset, offset + length);
      },
      flush: async () => void target(),
      resize: async (size) => {
        const t = target();
        if (!t.key) throw new StoreError('INVALID_ARGUMENT', `staging ${id} has a fixed size; resize(${size}) is for in-place handles`);
        checkStagingSize(size, 'resize: size');
        const d = new Uint8Array(size);
        d.set(t.data.subarray(0, Math.min(size, t.data.length)));
        t.set(d);
      },
      discard: async () => {
        if (this.stagings.delete(id)) return;
        const ip = this.inPlaceEntry(id)?.inPlace;
        if (ip) ip.active = false;
      },
    };
  }
}

function notFound(key: string): StoreError {
  return new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
}
