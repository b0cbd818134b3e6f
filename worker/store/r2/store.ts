// The Store on R2 and a Durable Object (one per key). R2 objects:
//   h/<key>          empty; its custom metadata is the key's current version
//                    (id, size, time, root, recipe, incomplete): the one
//                    atomic switch of a commit, and what list() reads
//   r/<hex>/<gen>    that version's recipe (recipe.ts): the extents of
//                    immutable objects that spell its bytes; a compaction
//                    writes the next generation
//   p/<hex>/<seq>    literal bytes a push uploaded (a piece), read by recipes
//   c/<hex>          a compacted run of extents (compaction.ts)
//   d/<hex>          a version of the older flat layout (one object), still
//                    read as a recipe of one extent
//   m/<hex>/<cid>    a version's manifest under one chunking
// Sessions, blobs, staging extents and which objects the key owns and who
// holds them (objects.ts) live in the Durable Object's SQLite (db.ts).
// Commits, deletes, compactions and in-place opens of a key run in its
// object, one at a time; reads (GET, HEAD, list) may run anywhere with no
// Durable Object (`new R2Store(bucket)`).
import { chunkingId } from '../../../core/protocol/chunking.js';
import { type Manifest, decodeManifest, encodeManifest } from '../../../core/protocol/manifest.js';
import { randomHex as hex } from '../../../core/protocol/hex.js';
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
import { type CompactionBounds, Compactor } from './compaction.js';
import { Db, RECORD } from './db.js';
import { readSegments, segments, streamSegments } from './multipart.js';
import { Objects, pages } from './objects.js';
import { type Recipe, decodeRecipe, encodeRecipe, flatRecipe, objectsOf, recipeObject, slice } from './recipe.js';
import { type Head, headKey, layoutOf, toInfo } from './head.js';
import { R2Stagings, hexOf } from './staging.js';

/**
 * R2 reads one request may make for a version's bytes (970 of the 1,000
 * calls Workers allow a request, besides its head and recipe). A multi-range
 * GET makes at most MAX_RANGE_READS (64) reads, each crossing the extents of
 * its own span, so any read of a version of up to 906 extents fits; a
 * compaction keeps versions under 512 (compaction.ts). A read that would
 * pass it (a first push of thousands of parts, until its compaction has run)
 * answers 503 BUSY with Retry-After, before any R2 read.
 */
export const MAX_READ_CALLS = 970;
/** Seconds a read refused for a compaction under way suggests waiting (each alarm step moves ~20 MiB). */
const COMPACTING_RETRY_S = 10;

/** Decoded recipes by name (they never change), shared by the requests of an isolate: a read costs a head, not a head and a recipe. */
const recipes = new Map<string, Recipe>();
const RECIPES_CACHED = 64;

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
  private readonly objects: Objects | null;
  private readonly stagings: R2Stagings | null;
  private readonly locks = new KeyLocks();
  private readonly maxReadCalls: number;
  /** Runs this key's compaction (only with Durable Object storage). */
  readonly compactor: Compactor | null;

  constructor(
    private readonly bucket: R2Bucket,
    sql?: SqlStorage,
    private readonly now: () => number = Date.now,
    opts: { compaction?: CompactionBounds; flatPrefix?: string; maxReadCalls?: number } = {},
  ) {
    this.maxReadCalls = opts.maxReadCalls ?? MAX_READ_CALLS;
    this.db = sql ? new Db(sql) : null;
    this.objects = this.db ? new Objects(this.db, now) : null;
    this.stagings =
      this.db && this.objects
        ? new R2Stagings(
            bucket,
            this.db,
            this.objects,
            async (k, v) => this.recipeOf((await this.readable(k, v)).meta),
            (layout, size) => this.recipeAt(layout, size),
            now,
          )
        : null;
    this.compactor =
      this.db && this.objects
        ? new Compactor(
            bucket,
            this.db,
            this.objects,
            {
              key: () => this.db!.selfKey(),
              head: (k) => this.headOf(k),
              recipe: (meta) => this.recipeOf(meta),
              publish: (k, meta) => this.publish(k, meta),
              locked: (k, fn) => this.locks.run(k, fn),
            },
            opts.compaction,
            opts.flatPrefix,
          )
        : null;
  }

  private state(): { db: Db; stagings: R2Stagings; objects: Objects } {
    if (!this.db || !this.stagings || !this.objects)
      throw new StoreError('IO', "this R2Store has no Durable Object storage: sessions, staging and commits run in the key's Durable Object");
    return { db: this.db, stagings: this.stagings, objects: this.objects };
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

  /** A version's recipe from its head. */
  private recipeOf(meta: Head): Promise<Recipe> {
    return this.recipeAt(layoutOf(meta), Number(meta.size));
  }

  /** The recipe named `layout` ("r/…"), or a flat object of `size` bytes as one extent. */
  private async recipeAt(layout: string, size: number): Promise<Recipe> {
    if (!layout.startsWith('r/')) return flatRecipe(layout, size);
    const hit = recipes.get(layout);
    if (hit) return hit;
    const o = await this.bucket.get(layout);
    if (!o) throw new StoreError('CONFLICT', `recipe ${layout} is gone: its version was replaced more than an hour ago; read again`);
    const r = decodeRecipe(new Uint8Array(await o.arrayBuffer()), layout);
    if (recipes.size >= RECIPES_CACHED) recipes.delete(recipes.keys().next().value!);
    recipes.set(layout, r);
    return r;
  }

  /** The segments of a version's `[offset, offset + length)`, within MAX_READ_CALLS reads per request (`used` counts them). */
  private async spans(recipe: Recipe, offset: number, length: number, used: { calls: number }) {
    const segs = segments(slice(recipe, offset, offset + length), offset, offset + length);
    used.calls += segs.filter((x) => x.obj !== null).length;
    if (used.calls > this.maxReadCalls)
      throw new StoreError(
        'BUSY',
        `this read needs ${used.calls} R2 reads, above the ${this.maxReadCalls} a request may make: the version's ${recipe.extents.length} extents are being compacted; ask again, or read smaller ranges`,
        { retryAfterS: COMPACTING_RETRY_S },
      );
    return segs;
  }

  async read(key: string, opts: { version?: string; offset?: number; length?: number } = {}) {
    const r = await this.reader(key, opts.version);
    const offset = opts.offset ?? 0;
    const length = opts.length ?? Math.max(0, r.info.size - offset);
    return { info: r.info, body: await r.read(offset, length) };
  }

  async reader(key: string, version?: string): Promise<VersionReader> {
    const { info, meta } = await this.readable(key, version);
    const recipe = await this.recipeOf(meta);
    const used = { calls: 0 };
    return {
      info,
      read: async (offset, length) => {
        checkSpan(`read ${JSON.stringify(key)}`, offset, length, info.size);
        return streamSegments(this.bucket, await this.spans(recipe, offset, length, used));
      },
    };
  }

  async readRange(key: string, version: string, offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readRange', length);
    const { info, meta } = await this.readable(key, version);
    checkSpan(`readRange ${JSON.stringify(key)}`, offset, length, info.size);
    return readSegments(this.bucket, await this.spans(await this.recipeOf(meta), offset, length, { calls: 0 }));
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
    const { db, stagings } = this.state();
    db.setSelfKey(checkR2Key(key));
    await this.locks.run(key, async () => {
      const h = await this.headOf(key);
      if (!h) throw new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      if (expectedVersion !== undefined && h.info.id !== expectedVersion) throw conflict(key, h.info.id, expectedVersion);
      await this.bucket.delete(headKey(key));
      if (h.meta.incomplete) await stagings.discard(h.info.id, true);
      this.retire(h.meta);
      const flat = this.compactor!.flatName(key);
      if (flat) {
        await this.bucket.delete(flat);
        this.compactor!.forgetFlat();
      }
    });
  }

  /** Manifests are named by the version's hex, the same in both layouts ("v-<hex>" was "d/<hex>"). */
  private manifestPrefix(info: VersionInfo): string {
    return `m/${hexOf(info.id)}/`;
  }

  async getManifest(key: string, version: string, cid: string): Promise<Manifest | null> {
    const { info } = await this.readable(key, version);
    const o = await this.bucket.get(`${this.manifestPrefix(info)}${cid}`);
    return o ? decodeManifest(new Uint8Array(await o.arrayBuffer())) : null;
  }

  async listManifests(key: string, version: string): Promise<string[]> {
    const { info } = await this.readable(key, version);
    const prefix = this.manifestPrefix(info);
    const ids: string[] = [];
    for await (const page of pages(this.bucket, prefix)) ids.push(...page.map((name) => name.slice(prefix.length)));
    return ids.sort();
  }

  async putManifest(key: string, version: string, manifest: Manifest): Promise<void> {
    const { info } = await this.readable(key, version);
    if (manifest.size !== info.size)
      throw new StoreError('INVALID_ARGUMENT', `manifest size ${manifest.size} is not the size ${info.size} of ${JSON.stringify(key)}`);
    await this.bucket.put(`${this.manifestPrefix(info)}${chunkingId(manifest.chunking)}`, encodeManifest(manifest));
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
    const { db, stagings } = this.state();
    db.setSelfKey(checkR2Key(key));
    return this.locks.run(key, async () => {
      const h = await this.headOf(key);
      if (!h) throw new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
      if (h.info.incomplete) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} is already being rewritten in place (${h.info.id})`);
      if (h.info.id !== expectedVersion) throw conflict(key, h.info.id, expectedVersion);
      this.adopt(h.meta);
      const id = `ip-${hex(16)}`;
      // The basis's objects stay as they are until the commit; the marker only makes reads answer INCOMPLETE, as the protocol asks.
      const handle = stagings.create(id, h.info.size, { key, version: h.info.id, layout: layoutOf(h.meta), size: h.info.size });
      await this.bucket.put(headKey(key), new Uint8Array(0), {
        customMetadata: { ...h.meta, id, time: String(this.now()), incomplete: '1', basis: h.info.id },
      });
      return handle;
    });
  }

  async commit(key: string, stagingId: string, opts: CommitOptions): Promise<VersionInfo> {
    const { db, stagings, objects } = this.state();
    checkRoot(opts.root);
    db.setSelfKey(checkR2Key(key));
    const info = await this.locks.run(key, async () => {
      const h = await this.headOf(key);
      const ip = stagingId.startsWith('ip-');
      if (ip) {
        if (!h || h.info.id !== stagingId) throw new StoreError('CONFLICT', `in-place rewrite ${stagingId} of ${JSON.stringify(key)} is not active`);
        if (h.meta.basis !== opts.expectedVersion) throw conflict(key, h.meta.basis ?? null, opts.expectedVersion);
      } else if ((h?.info.id ?? null) !== opts.expectedVersion) throw conflict(key, h?.info.id ?? null, opts.expectedVersion);
      const row = db.live(stagingId);
      if (opts.manifest && opts.manifest.size !== row.size)
        throw new StoreError('INVALID_ARGUMENT', `manifest size ${opts.manifest.size} is not the staged size ${row.size}`);
      if (h) this.adopt(h.meta); // a basis of the older layout: its flat object becomes this key's, so copies of it need no copy of bytes
      const recipe = await stagings.recipe(stagingId);
      const vhex = hexOf(stagingId);
      const name = recipeObject(vhex, 0);
      // Held before it exists: a crash from here on leaves a live holder the next collection releases (objects.ts).
      objects.own(name);
      objects.hold(name, [name, ...objectsOf(recipe)]);
      await this.bucket.put(name, encodeRecipe(recipe));
      if (opts.manifest) await this.bucket.put(`m/${vhex}/${chunkingId(opts.manifest.chunking)}`, encodeManifest(opts.manifest));
      const meta: Head = {
        id: `v-${vhex}`,
        size: String(row.size),
        time: String(this.now()),
        recipe: name,
        ...(opts.root ? { root: opts.root } : {}),
        ...(opts.metadata ? { meta: JSON.stringify(opts.metadata) } : {}),
      };
      await this.publish(key, meta);
      db.dropStaging(stagingId, ip);
      if (h) this.retire(h.meta);
      return toInfo(meta);
    });
    return info;
  }

  /** Makes `meta` the key's head: the one atomic put that switches readers to a version (or a compacted recipe of it). */
  private async publish(key: string, meta: Head): Promise<void> {
    await this.bucket.put(headKey(key), new Uint8Array(0), { customMetadata: meta });
  }

  /** A head of the older layout: its flat object becomes one this key owns and holds, like a recipe's objects. */
  private adopt(meta: Head): void {
    const { objects } = this.state();
    if (meta.recipe || !meta.data || objects.owns(meta.data)) return;
    objects.own(meta.data, 0);
    objects.hold(meta.data, [meta.data]);
  }

  /** A replaced or deleted version: its objects go after the grace period unless a later version reads them too. */
  private retire(meta: Head): void {
    this.adopt(meta);
    this.state().objects.release(layoutOf(meta));
  }

  /**
   * Deletes what nothing holds (objects.ts): releases holders a crash left
   * live, drops holders whose grace period ended (and the manifests of
   * versions left with none), then deletes unheld objects. Also drains the
   * `garbage` table of the older layout (flat objects due for deletion).
   */
  private async collect(now: number): Promise<void> {
    const { db, objects } = this.state();
    for (const { obj } of db.sql.exec<{ obj: string }>('SELECT obj FROM garbage WHERE due <= ?', now).toArray()) {
      const page = await this.bucket.list({ prefix: `m/${hexOf(obj)}/` });
      await this.bucket.delete([obj, ...page.objects.map((o) => o.key)]);
      db.sql.exec('DELETE FROM garbage WHERE obj = ?', obj);
    }
    const key = db.selfKey();
    if (key === null) return;
    await this.locks.run(key, async () => {
      const h = await this.headOf(key);
      const current = h ? layoutOf(h.meta) : null;
      for (const s of objects.strays(current)) objects.release(s);
      for (const x of objects.expire(now, current)) {
        for await (const page of pages(this.bucket, `m/${x}/`)) if (page.length) await this.bucket.delete(page);
      }
      for (let dead = objects.unheld(now); dead.length > 0; dead = objects.unheld(now)) {
        await this.bucket.delete(dead);
        objects.forget(dead);
      }
    });
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

  /** True while sessions, staging areas, objects to collect or a compaction remain (the Durable Object keeps its alarm). */
  hasState(): boolean {
    if (!this.db || !this.objects) return false;
    const rows = this.db.sql.exec('SELECT 1 FROM sessions UNION ALL SELECT 1 FROM staging UNION ALL SELECT 1 FROM garbage LIMIT 1').toArray();
    return rows.length > 0 || this.objects.pending();
  }

  async sweep(now: number): Promise<string[]> {
    if (!this.db || !this.stagings) return []; // a read-only store has no sessions
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
    await this.collect(now);
    return expired.map((s) => s.id);
  }
}
