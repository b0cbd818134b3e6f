// The Store on R2 and a Durable Object (one per key). R2 objects:
//   h/<key>          empty; its custom metadata is the key's current version
//                    (id, size, time, root, data object, incomplete): the one
//                    atomic switch of a commit, and what list() reads
//   d/<hex>          a version's bytes, written once (multipart) and never changed
//   m/<hex>/<cid>    that version's manifest under one chunking
//   p/<hex>/<seq>    literal bytes of a staging area, until its commit
// Sessions, blobs, staging extents and part ETags live in the Durable Object's
// SQLite (db.ts). Commits, deletes and in-place opens of a key run in its
// object, one at a time; reads (GET, HEAD, list) may run anywhere with no
// Durable Object (`new R2Store(bucket)`).
import { chunkingId } from '../../../sdk/protocol/chunking.js';
import { type Manifest, decodeManifest, encodeManifest } from '../../../sdk/protocol/manifest.js';
import { randomHex as hex } from '../../../sdk/protocol/hex.js';
import { KeyLocks } from '../key-lock.js';
import { validateKey, validatePrefix } from '../keys.js';
import {
  type CommitOptions,
  type ListPage,
  ORPHAN_AGE_MS,
  type SessionRecord,
  type Staging,
  type Store,
  StoreError,
  type VersionInfo,
  type VersionReader,
  checkBlob,
  checkReadLength,
  checkSessionId,
  checkSpan,
  encodeSession,
  checkListLimit,
  checkRoot,
  checkStagingSize,
  conflict,
} from '../store.js';
import { Db, RECORD } from './db.js';
import { R2Stagings, hexOf } from './staging.js';

/** A head record's custom metadata (R2 metadata values are strings). */
type Head = Record<'id' | 'size' | 'time' | 'data', string> & { root?: string; incomplete?: string; basis?: string };

const headKey = (key: string) => `h/${key}`;
/**
 * A replaced version's bytes stay one hour (3,600,000 ms): long enough for
 * sessions of other keys that copy from it to commit, short enough that a
 * file pushed every few minutes is not stored many times over. A session
 * that takes longer fails its commit with VERSION_CONFLICT, never with
 * wrong bytes.
 */
const GRACE_MS = 3_600_000;
/** R2 object names are at most 1024 bytes; "h/" takes 2 of them. */
const MAX_R2_KEY_BYTES = 1022;

/** Throws INVALID_KEY unless `key` is a valid key (store/keys.ts) that fits an R2 object name after "h/". */
export function checkR2Key(key: string): string {
  validateKey(key);
  if (new TextEncoder().encode(key).length > MAX_R2_KEY_BYTES)
    throw new StoreError('INVALID_KEY', `key is longer than ${MAX_R2_KEY_BYTES} bytes of UTF-8 (R2's 1024-byte object names, less the "h/" prefix)`);
  return key;
}

/**
 * A Store over an R2 bucket, with a Durable Object's SQLite for sessions and staging.
 * @example const store = new R2Store(env.BUCKET, ctx.storage.sql); await store.head('a.bin')
 */
export class R2Store implements Store {
  private readonly db: Db | null;
  private readonly stagings: R2Stagings | null;
  private readonly locks = new KeyLocks();

  constructor(
    private readonly bucket: R2Bucket,
    sql?: SqlStorage,
    private readonly now: () => number = Date.now,
  ) {
    this.db = sql ? new Db(sql) : null;
    this.stagings = this.db ? new R2Stagings(bucket, this.db, (k, v) => this.source(k, v), now) : null;
  }

  private state(): { db: Db; stagings: R2Stagings } {
    if (!this.db || !this.stagings)
      throw new StoreError('IO', "this R2Store has no Durable Object storage: sessions, staging and commits run in the key's Durable Object");
    return { db: this.db, stagings: this.stagings };
  }

  private async headOf(key: string): Promise<{ info: VersionInfo; meta: Head } | null> {
    checkR2Key(key);
    const o = await this.bucket.head(headKey(key));
    if (!o) return null;
    const meta = o.customMetadata as Head;
    return { info: toInfo(meta), meta };
  }

  async head(key: string): Promise<VersionInfo | null> {
    return (await this.headOf(key))?.info ?? null;
  }

  /** The current version's head, INCOMPLETE/NOT_FOUND/CONFLICT as reads need. */
  private async readable(key: string, version?: string): Promise<{ info: VersionInfo; meta: Head }> {
    const h = await this.headOf(key);
    if (!h) throw new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
    if (h.info.incomplete)
      throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is incomplete (an in-place push has not finished); push it again to complete it`);
    if (version !== undefined && h.info.id !== version) throw conflict(key, h.info.id, version);
    return h;
  }

  private async source(key: string, version: string): Promise<{ obj: string; size: number }> {
    const h = await this.readable(key, version);
    return { obj: h.meta.data, size: h.info.size };
  }

  async read(key: string, opts: { version?: string; offset?: number; length?: number } = {}) {
    const { info, meta } = await this.readable(key, opts.version);
    const offset = opts.offset ?? 0;
    const length = opts.length ?? Math.max(0, info.size - offset);
    checkSpan(`read ${JSON.stringify(key)}`, offset, length, info.size);
    if (length === 0) return { info, body: new Blob([]).stream() as ReadableStream<Uint8Array> };
    const o = await this.bucket.get(meta.data, { range: { offset, length } });
    if (!o) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} moved on from version ${info.id} while it was being read`);
    return { info, body: o.body as ReadableStream<Uint8Array> };
  }

  async reader(key: string, version?: string): Promise<VersionReader> {
    const { info, meta } = await this.readable(key, version);
    return {
      info,
      read: async (offset, length) => {
        checkSpan(`read ${JSON.stringify(key)}`, offset, length, info.size);
        if (length === 0) return new Blob([]).stream() as ReadableStream<Uint8Array>;
        const o = await this.bucket.get(meta.data, { range: { offset, length } });
        if (!o) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} moved on from version ${info.id} while it was being read`);
        return o.body as ReadableStream<Uint8Array>;
      },
    };
  }

  async readRange(key: string, version: string, offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readRange', length);
    const { info, meta } = await this.readable(key, version);
    checkSpan(`readRange ${JSON.stringify(key)}`, offset, length, info.size);
    if (length === 0) return new Uint8Array(0);
    const o = await this.bucket.get(meta.data, { range: { offset, length } });
    if (!o) throw conflict(key, '(replaced)', version);
    return new Uint8Array(await o.arrayBuffer());
  }

  async list(prefix: string, limit: number, cursor?: string): Promise<ListPage> {
    validatePrefix(prefix);
    checkListLimit(limit);
    const entries: ListPage['entries'] = [];
    let r2cursor: string | undefined;
    // One more than asked, to know whether another page exists; R2 may answer short pages when metadata is included.
    while (entries.length <= limit) {
      const page = await this.bucket.list({
        prefix: headKey(prefix),
        startAfter: cursor === undefined ? undefined : headKey(cursor),
        cursor: r2cursor,
        limit: Math.min(1000, limit + 1 - entries.length),
        include: ['customMetadata'],
      } as R2ListOptions);
      for (const o of page.objects) entries.push({ key: o.key.slice(2), version: toInfo(o.customMetadata as Head) });
      if (!page.truncated) break;
      r2cursor = page.cursor;
    }
    return entries.length > limit ? { entries: entries.slice(0, limit), cursor: entries[limit - 1].key } : { entries };
  }

  async delete(key: string, expectedVersion?: string): Promise<void> {
    const { stagings } = this.state();
    await this.locks.run(key, async () => {
      const h = await this.headOf(key);
      if (!h) throw new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      if (expectedVersion !== undefined && h.info.id !== expectedVersion) throw conflict(key, h.info.id, expectedVersion);
      await this.bucket.delete(headKey(key));
      if (h.meta.incomplete) await stagings.discard(h.info.id, true);
      await this.dropVersion(h.meta.data);
    });
  }

  async getManifest(key: string, version: string, cid: string): Promise<Manifest | null> {
    const { meta } = await this.readable(key, version);
    const o = await this.bucket.get(`m/${hexOf(meta.data)}/${cid}`);
    return o ? decodeManifest(new Uint8Array(await o.arrayBuffer())) : null;
  }

  async listManifests(key: string, version: string): Promise<string[]> {
    const { meta } = await this.readable(key, version);
    const prefix = `m/${hexOf(meta.data)}/`;
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor });
      ids.push(...page.objects.map((o) => o.key.slice(prefix.length)));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return ids.sort();
  }

  async putManifest(key: string, version: string, manifest: Manifest): Promise<void> {
    const { info, meta } = await this.readable(key, version);
    if (manifest.size !== info.size)
      throw new StoreError('INVALID_ARGUMENT', `manifest size ${manifest.size} is not the size ${info.size} of ${JSON.stringify(key)}`);
    await this.bucket.put(`m/${hexOf(meta.data)}/${chunkingId(manifest.chunking)}`, encodeManifest(manifest));
  }

  async createStaging(size: number): Promise<Staging> {
    checkStagingSize(size);
    return this.state().stagings.create(`st-${hex(16)}`, size);
  }

  async staging(id: string): Promise<Staging> {
    const { db, stagings } = this.state();
    if (!/^(st|ip)-[0-9a-f]{32}$/.test(id)) throw new StoreError('INVALID_ARGUMENT', `${JSON.stringify(id)} is not a staging id`);
    db.live(id);
    return stagings.handle(id);
  }

  async openInPlace(key: string, expectedVersion: string): Promise<Staging> {
    const { stagings } = this.state();
    return this.locks.run(key, async () => {
      const h = await this.headOf(key);
      if (!h) throw new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      if (h.info.incomplete) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} is already being rewritten in place (${h.info.id})`);
      if (h.info.id !== expectedVersion) throw conflict(key, h.info.id, expectedVersion);
      const id = `ip-${hex(16)}`;
      // The basis object stays as it is until the commit; the marker only makes reads answer INCOMPLETE, as the protocol asks.
      const handle = stagings.create(id, h.info.size, { key, version: h.info.id, obj: h.meta.data, size: h.info.size });
      await this.bucket.put(headKey(key), new Uint8Array(0), {
        customMetadata: { ...h.meta, id, time: String(this.now()), incomplete: '1', basis: h.info.id },
      });
      return handle;
    });
  }

  async commit(key: string, stagingId: string, opts: CommitOptions): Promise<VersionInfo> {
    const { db, stagings } = this.state();
    checkRoot(opts.root);
    return this.locks.run(key, async () => {
      const h = await this.headOf(key);
      const ip = stagingId.startsWith('ip-');
      if (ip) {
        if (!h || h.info.id !== stagingId) throw new StoreError('CONFLICT', `in-place rewrite ${stagingId} of ${JSON.stringify(key)} is not active`);
        if (h.meta.basis !== opts.expectedVersion) throw conflict(key, h.meta.basis ?? null, opts.expectedVersion);
      } else if ((h?.info.id ?? null) !== opts.expectedVersion) throw conflict(key, h?.info.id ?? null, opts.expectedVersion);
      const row = db.live(stagingId);
      if (opts.manifest && opts.manifest.size !== row.size)
        throw new StoreError('INVALID_ARGUMENT', `manifest size ${opts.manifest.size} is not the staged size ${row.size}`);
      const { obj, size } = await stagings.finish(stagingId);
      if (opts.manifest) await this.bucket.put(`m/${hexOf(obj)}/${chunkingId(opts.manifest.chunking)}`, encodeManifest(opts.manifest));
      const meta: Head = { id: `v-${hexOf(stagingId)}`, size: String(size), time: String(this.now()), data: obj, ...(opts.root ? { root: opts.root } : {}) };
      await this.bucket.put(headKey(key), new Uint8Array(0), { customMetadata: meta }); // the publish: one atomic put
      db.dropStaging(stagingId, ip);
      await stagings.cleanup(stagingId, null);
      if (h && h.meta.data !== obj) await this.dropVersion(h.meta.data);
      return toInfo(meta);
    });
  }

  /**
   * Schedules a replaced version's data object and manifests for deletion
   * after GRACE_MS: staging areas of other keys may still point at it (a
   * basis copy is an extent, not a copy of bytes), and a GET already
   * streaming it finishes. The object is never referenced by a head again.
   */
  private async dropVersion(obj: string): Promise<void> {
    this.state().db.sql.exec('INSERT OR REPLACE INTO garbage (obj, due) VALUES (?, ?)', obj, this.now() + GRACE_MS);
  }

  /** Deletes replaced versions whose grace period is over. */
  private async collect(now: number): Promise<void> {
    const { db } = this.state();
    for (const { obj } of db.sql.exec<{ obj: string }>('SELECT obj FROM garbage WHERE due <= ?', now).toArray()) {
      const page = await this.bucket.list({ prefix: `m/${hexOf(obj)}/` });
      await this.bucket.delete([obj, ...page.objects.map((o) => o.key)]);
      db.sql.exec('DELETE FROM garbage WHERE obj = ?', obj);
    }
  }

  async putSession(record: SessionRecord): Promise<void> {
    this.state().db.putSession(record.id, record.expires, encodeSession(record));
  }
  async getSession(id: string): Promise<SessionRecord | null> {
    checkSessionId(id);
    const bytes = this.state().db.getBlob(id, RECORD);
    return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as SessionRecord) : null;
  }
  async deleteSession(id: string): Promise<void> {
    checkSessionId(id);
    this.state().db.deleteSession(id);
  }
  async putSessionBlob(id: string, name: string, bytes: Uint8Array): Promise<void> {
    checkSessionId(id);
    checkBlob(name, bytes);
    this.state().db.putBlob(id, name, bytes);
  }
  async getSessionBlob(id: string, name: string): Promise<Uint8Array | null> {
    checkSessionId(id);
    checkSessionId(name, 'blob name');
    return this.state().db.getBlob(id, name);
  }
  async listSessionBlobs(id: string): Promise<string[]> {
    checkSessionId(id);
    return this.state().db.blobNames(id);
  }
  async listSessions(): Promise<SessionRecord[]> {
    return this.sessionsOf(this.sessionIds());
  }

  /** The records of `ids` (those still present). */
  private async sessionsOf(ids: string[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of ids) {
      const s = await this.getSession(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** Ids of the sessions held, expired or not. */
  sessionIds(): string[] {
    return this.db?.sessionIds() ?? [];
  }

  /** True while sessions or staging areas remain (the Durable Object keeps its sweep alarm). */
  hasState(): boolean {
    return !!this.db && this.db.sql.exec('SELECT 1 FROM sessions UNION ALL SELECT 1 FROM staging UNION ALL SELECT 1 FROM garbage LIMIT 1').toArray().length > 0;
  }

  async sweep(now: number): Promise<string[]> {
    if (!this.db || !this.stagings) return []; // a read-only store has no sessions
    await this.collect(now);
    const expired = await this.sessionsOf(this.db.sessionIds(now));
    for (const s of expired) {
      await this.stagings.discard(s.stagingId);
      this.db.deleteSession(s.id);
    }
    const live = new Set<string>();
    for (const id of this.db.sessionIds()) live.add((await this.getSession(id))?.stagingId ?? '');
    const old = this.db.sql.exec<{ id: string; retired: number }>('SELECT id, retired FROM staging WHERE touched < ?', now - ORPHAN_AGE_MS).toArray();
    for (const o of old) {
      if (live.has(o.id)) continue;
      if (o.retired) this.db.sql.exec('DELETE FROM staging WHERE id = ?', o.id);
      else await this.stagings.discard(o.id, false);
    }
    return expired.map((s) => s.id);
  }
}

function toInfo(m: Head): VersionInfo {
  return { id: m.id, size: Number(m.size), time: Number(m.time), ...(m.root ? { root: m.root } : {}), ...(m.incomplete ? { incomplete: true } : {}) };
}
