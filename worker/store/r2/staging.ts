// Staging areas on R2: `Staging` (store.ts) over a Durable Object's SQLite
// and R2 objects. Nothing is written at random offsets: a write is kept in
// memory until `flush()`, which puts all pending writes of the area as one R2
// object, a literal piece ("p/<hex>/<seq>"), and records an extent per write;
// `copyFrom` records the extents of the source version's recipe it covers
// without moving a byte. The commit turns the extents into the new version's
// recipe (recipe.ts): the pieces become the version's own objects.
import { KeyLocks } from '../key-lock.js';
import { type Staging, StoreError, checkReadLength, checkSpan, checkStagingSize } from '../store.js';
import type { Db, Extent, StagingRow } from './db.js';
import { putStreamed, readSegments, segments, writeSegments } from './multipart.js';
import { type Objects, pages } from './objects.js';
import { type Recipe, recipeOf, slice } from './recipe.js';

/** Pending writes above this many bytes (8 MiB) are flushed at once, bounding memory per staging area. */
const FLUSH_BYTES = 8 << 20;
/** How stale a staging area's `touched` may get (60,000 ms) against ORPHAN_AGE_MS (a day). */
const TOUCH_EVERY_MS = 60_000;
/** Largest object a foreign extent is copied into at a commit (1 GiB, under R2's 5 GiB single put). */
const MATERIALIZE_PIECE = 1 << 30;

/** The hex name shared by a staging id ("st-<hex>", "ip-<hex>"), its pieces ("p/<hex>/…"), its version ("v-<hex>") and that version's recipe ("r/<hex>/…"). */
export const hexOf = (id: string) => id.slice(id.indexOf('-') + 1);
/** Resolves a committed version to its recipe (CONFLICT if it is not the key's current version). */
export type SourceResolver = (key: string, version: string) => Promise<Recipe>;
/** Resolves an in-place basis (its head's recipe or flat object name, and size) to its recipe. */
export type LayoutResolver = (layout: string, size: number) => Promise<Recipe>;

/**
 * Every staging area of one Durable Object: pending writes, extents, uploads.
 * @example const h = stagings.handle(id); await h.writeAt(0, bytes); await h.flush();
 */
export class R2Stagings {
  private readonly pending = new Map<string, Array<{ dst: number; bytes: Uint8Array }>>();
  private readonly flushes = new KeyLocks();

  constructor(
    private readonly bucket: R2Bucket,
    private readonly db: Db,
    private readonly objects: Objects,
    private readonly source: SourceResolver,
    private readonly layout: LayoutResolver,
    private readonly now: () => number,
  ) {}

  /** A handle whose every call looks the area up again (it may be committed or swept meanwhile). */
  handle(id: string): Staging {
    return {
      id,
      size: async () => this.db.live(id).size,
      writeAt: (offset, bytes) => this.writeAt(id, offset, bytes),
      copyFrom: (k, v, src, len, dst) => this.copyFrom(id, k, v, src, len, dst),
      readAt: (offset, length) => this.readAt(id, offset, length),
      flush: () => this.flush(id),
      resize: (size) => this.resize(id, size),
      discard: () => this.discard(id),
    };
  }

  /** The live row, marked used: at most once a minute, since only the sweep's day-old orphan rule reads it (a write per part cost a SQLite write each). */
  private touch(id: string): StagingRow {
    const row = this.db.live(id);
    const now = this.now();
    if (now - row.touched >= TOUCH_EVERY_MS) this.db.sql.exec('UPDATE staging SET touched = ? WHERE id = ?', now, id);
    return row;
  }

  private async writeAt(id: string, offset: number, bytes: Uint8Array): Promise<void> {
    const row = this.touch(id);
    checkSpan('writeAt', offset, bytes.length, row.size);
    if (bytes.length === 0) return;
    const list = this.pending.get(id) ?? [];
    this.pending.set(id, list);
    list.push({ dst: offset, bytes: bytes.slice() });
    if (list.reduce((n, w) => n + w.bytes.length, 0) >= FLUSH_BYTES) await this.flush(id);
  }

  private async copyFrom(id: string, key: string, version: string, src: number, length: number, dst: number): Promise<void> {
    const row = this.touch(id);
    checkSpan('copyFrom destination', dst, length, row.size);
    let from: Recipe;
    if (row.key !== null && key === row.key) {
      // In place on R2 reads the basis's objects, which stay unchanged until the commit: memmove semantics for free.
      if (version !== row.basis)
        throw new StoreError('CONFLICT', `in-place copy from ${JSON.stringify(key)} names version ${version}, but the rewrite started from ${row.basis}`);
      from = await this.layout(row.basis_data!, row.basis_size!);
    } else from = await this.source(key, version);
    checkSpan('copyFrom source', src, length, from.size);
    if (length === 0) return;
    if (this.pending.get(id)?.length) await this.flush(id); // earlier writes must not land over this later copy
    for (const e of slice(from, src, src + length, dst - src)) this.db.putExtent(id, e);
  }

  private async readAt(id: string, offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readAt', length);
    const row = this.db.live(id);
    checkSpan('readAt', offset, length, row.size);
    const out = await readSegments(this.bucket, segments(this.db.extents(id, offset, offset + length), offset, offset + length));
    for (const w of this.pending.get(id) ?? []) {
      const a = Math.max(offset, w.dst);
      const b = Math.min(offset + length, w.dst + w.bytes.length);
      if (a < b) out.set(w.bytes.subarray(a - w.dst, b - w.dst), a - offset);
    }
    return out;
  }

  /** Puts the pending writes as one R2 object (streamed, no concatenated copy) and records their extents, in write order. */
  flush(id: string): Promise<void> {
    return this.flushes.run(id, async () => {
      const list = this.pending.get(id);
      if (!list?.length) return void this.db.live(id);
      const taken = list.length;
      const batch = list.slice(0, taken);
      const row = this.db.live(id);
      const seq = row.seq + 1;
      this.db.sql.exec('UPDATE staging SET seq = ? WHERE id = ?', seq, id);
      const obj = `p/${hexOf(id)}/${seq}`;
      this.objects.own(obj); // before the object exists: a crash now leaves a row the collection deletes, never an unknown object
      const total = batch.reduce((n, w) => n + w.bytes.length, 0);
      await putStreamed(this.bucket, obj, total, async (writable) => {
        const w = writable.getWriter();
        for (const b of batch) await w.write(b.bytes);
        await w.close();
      });
      let at = 0;
      const extents = batch.map((b) => {
        const extent = { dst: b.dst, len: b.bytes.length, obj, off: at };
        at += b.bytes.length;
        return extent;
      });
      this.db.live(id); // discarded or committed during the put: no extents for it (they would hold the piece forever)
      for (const e of extents) this.db.putExtent(id, e);
      list.splice(0, taken);
      if (list.length === 0) this.pending.delete(id);
    });
  }

  /**
   * The area's bytes as a recipe, once every pending write is flushed. Extents
   * of objects this key does not own (a copy from another key's version,
   * whose object that key may delete after its grace period) are copied into
   * pieces of this area first, so a version only ever reads its own key's objects.
   */
  async recipe(id: string): Promise<Recipe> {
    await this.flush(id);
    const row = this.db.live(id);
    const extents: Extent[] = [];
    let n = 0;
    for (const e of this.db.allExtents(id)) {
      if (e.obj === '' || this.objects.owns(e.obj)) {
        extents.push(e);
        continue;
      }
      for (let done = 0; done < e.len; done += MATERIALIZE_PIECE) {
        const len = Math.min(MATERIALIZE_PIECE, e.len - done);
        const obj = `p/${hexOf(id)}/m${n++}`;
        this.objects.own(obj);
        await putStreamed(this.bucket, obj, len, (writable, signal) => writeSegments(this.bucket, [{ len, obj: e.obj, off: e.off + done }], writable, signal));
        extents.push({ dst: e.dst + done, len, obj, off: 0 });
      }
    }
    return recipeOf(extents, row.size);
  }

  private async resize(id: string, size: number): Promise<void> {
    const row = this.touch(id);
    if (row.key === null) throw new StoreError('INVALID_ARGUMENT', `staging ${id} has a fixed size; resize(${size}) is for in-place handles`);
    checkStagingSize(size, 'resize: size');
    await this.flush(id);
    this.db.truncateExtents(id, size);
    this.db.sql.exec('UPDATE staging SET size = ? WHERE id = ?', size, id);
  }

  /** Drops an area: its pending writes, pieces and rows (an in-place handle stays as a spent tombstone). */
  async discard(id: string, tombstone?: boolean): Promise<void> {
    const row = this.db.staging(id);
    if (!row || row.retired) return;
    this.pending.delete(id);
    this.db.dropStaging(id, tombstone ?? row.key !== null);
    // A multipart upload of the older layout, which assembled the file at "d/<hex>" while parts came in.
    if (row.upload_id)
      await this.bucket
        .resumeMultipartUpload(`d/${hexOf(id)}`, row.upload_id)
        .abort()
        .catch(() => undefined);
    // Its pieces go now, not after the collection's grace period, unless a version holds them: a commit that
    // published but died before dropping its area leaves the area to the sweep, and its pieces to the version.
    for await (const page of pages(this.bucket, `p/${hexOf(id)}/`)) {
      const names = page.filter((obj) => !this.objects.held(obj));
      if (names.length) await this.bucket.delete(names);
      this.objects.forget(names);
    }
  }

  /** A new area row; in place, `basis` names the version and the layout (recipe or flat object) copies read. */
  create(id: string, size: number, basis?: { key: string; version: string; layout: string; size: number }): Staging {
    this.db.sql.exec(
      'INSERT INTO staging (id, size, touched, key, basis, basis_data, basis_size) VALUES (?, ?, ?, ?, ?, ?, ?)',
      id,
      size,
      this.now(),
      basis?.key ?? null,
      basis?.version ?? null,
      basis?.layout ?? null,
      basis?.size ?? null,
    );
    return this.handle(id);
  }
}
