// Staging areas on R2: `Staging` (store.ts) over a Durable Object's SQLite
// and R2 objects. Nothing is written at random offsets: a write is kept in
// memory until `flush()`, which puts all pending writes of the area as one R2
// object ("p/<hex>/<seq>") and records an extent per write; `copyFrom`
// records an extent pointing into the source version's object without moving
// a byte. Once an R2 multipart part's range is fully covered it is uploaded
// in the background (multipart.ts) and its ETag kept; the commit uploads the
// rest (gaps are zeros) and completes the upload.
import { KeyLocks } from '../key-lock.js';
import { type Staging, StoreError, checkReadLength, checkSpan, checkStagingSize } from '../store.js';
import type { Db, StagingRow } from './db.js';
import { partSizeFor, readSegments, segments, uploadSegments } from './multipart.js';

/** Pending writes above this many bytes (8 MiB) are flushed at once, bounding memory per staging area. */
const FLUSH_BYTES = 8 << 20;
/** Background part uploads per staging area (2: each is a stream pump, a few hundred KiB of buffers). */
const UPLOADS = 2;

/** The hex name shared by a staging id ("st-<hex>", "ip-<hex>"), its data object ("d/<hex>") and its version ("v-<hex>"). */
export const hexOf = (id: string) => id.slice(id.indexOf('-') + 1);
/** Where a staging area's bytes become an object. */
export const dataObject = (id: string) => `d/${hexOf(id)}`;

/** Resolves a committed version to its R2 data object and size (CONFLICT if it is not the key's current version). */
export type SourceResolver = (key: string, version: string) => Promise<{ obj: string; size: number }>;

/**
 * Every staging area of one Durable Object: pending writes, extents, uploads.
 * @example const h = stagings.handle(id); await h.writeAt(0, bytes); await h.flush();
 */
export class R2Stagings {
  private readonly pending = new Map<string, Array<{ dst: number; bytes: Uint8Array }>>();
  private readonly flushes = new KeyLocks();
  private readonly uploads = new Map<string, Promise<unknown>>();
  private readonly gen = new Map<string, number>();
  private readonly creating = new Map<string, Promise<R2MultipartUpload>>();

  constructor(
    private readonly bucket: R2Bucket,
    private readonly db: Db,
    private readonly source: SourceResolver,
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

  private touch(id: string): StagingRow {
    const row = this.db.live(id);
    this.db.sql.exec('UPDATE staging SET touched = ? WHERE id = ?', this.now(), id);
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
    let from: { obj: string; size: number };
    if (row.key !== null && key === row.key) {
      // In place on R2 reads the basis object, which stays unchanged until the commit: memmove semantics for free.
      if (version !== row.basis)
        throw new StoreError('CONFLICT', `in-place copy from ${JSON.stringify(key)} names version ${version}, but the rewrite started from ${row.basis}`);
      from = { obj: row.basis_data!, size: row.basis_size! };
    } else from = await this.source(key, version);
    checkSpan('copyFrom source', src, length, from.size);
    if (length === 0) return;
    if (this.pending.get(id)?.length) await this.flush(id); // earlier writes must not land over this later copy
    this.record(id, row, [{ dst, len: length, obj: from.obj, off: src }]);
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
      const total = batch.reduce((n, w) => n + w.bytes.length, 0);
      const { readable, writable } = new FixedLengthStream(total);
      const write = (async () => {
        const w = writable.getWriter();
        for (const b of batch) await w.write(b.bytes);
        await w.close();
      })();
      await Promise.all([this.bucket.put(obj, readable), write]);
      let at = 0;
      const extents = batch.map((b) => {
        const extent = { dst: b.dst, len: b.bytes.length, obj, off: at };
        at += b.bytes.length;
        return extent;
      });
      this.record(id, this.db.live(id), extents);
      list.splice(0, taken);
      if (list.length === 0) this.pending.delete(id);
    });
  }

  /** Records extents; parts they touch that were uploaded become dirty; fully covered parts are uploaded in the background. */
  private record(id: string, row: StagingRow, extents: Array<{ dst: number; len: number; obj: string; off: number }>): void {
    const P = partSizeFor(row.size);
    const touched = new Set<number>();
    for (const e of extents) {
      this.db.putExtent(id, e);
      for (let k = Math.floor(e.dst / P); k * P < e.dst + e.len; k++) touched.add(k);
    }
    for (const k of touched) {
      this.gen.set(`${id}:${k}`, (this.gen.get(`${id}:${k}`) ?? 0) + 1);
      this.db.sql.exec('DELETE FROM parts WHERE st = ? AND n = ?', id, k + 1);
    }
    // In place the size may still change (resize), so its parts wait for the commit.
    if (row.key === null)
      this.kick(
        id,
        row.size,
        [...touched].filter((k) => this.db.covered(id, k * P, Math.min(row.size, (k + 1) * P)) === Math.min(row.size, (k + 1) * P) - k * P),
      );
  }

  /** Queues background uploads of parts `ks` (0-based), UPLOADS at a time; failures only mean the commit uploads them. */
  private kick(id: string, size: number, ks: number[]): void {
    if (ks.length === 0) return;
    const prev = this.uploads.get(id) ?? Promise.resolve();
    const queue = [...ks];
    const worker = async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift())
        await this.uploadPart(id, size, k).catch((e) =>
          console.error(`deltaflare: background upload of part ${k + 1} of ${id} failed (the commit retries it):`, e),
        );
    };
    const job = prev.then(() => Promise.all(Array.from({ length: Math.min(UPLOADS, ks.length) }, worker)));
    this.uploads.set(id, job);
    void job.finally(() => this.uploads.get(id) === job && this.uploads.delete(id));
  }

  /** The area's multipart upload, created on first use. */
  private upload(id: string): Promise<R2MultipartUpload> {
    const row = this.db.live(id);
    if (row.upload_id) return Promise.resolve(this.bucket.resumeMultipartUpload(dataObject(id), row.upload_id));
    let p = this.creating.get(id);
    if (!p) {
      p = this.bucket.createMultipartUpload(dataObject(id)).then((u) => {
        this.db.sql.exec('UPDATE staging SET upload_id = ? WHERE id = ?', u.uploadId, id);
        return u;
      });
      this.creating.set(id, p);
      void p.finally(() => this.creating.delete(id));
    }
    return p;
  }

  /** Uploads part k (0-based) of an area of `size` bytes and records its ETag, unless the part changed meanwhile. */
  private async uploadPart(id: string, size: number, k: number): Promise<void> {
    const P = partSizeFor(size);
    const start = k * P;
    const end = Math.min(size, start + P);
    const g = this.gen.get(`${id}:${k}`) ?? 0;
    const segs = segments(this.db.extents(id, start, end), start, end);
    const part = await uploadSegments(this.bucket, await this.upload(id), k + 1, segs);
    if ((this.gen.get(`${id}:${k}`) ?? 0) !== g || !this.db.staging(id)) return;
    this.db.sql.exec('INSERT OR REPLACE INTO parts (st, n, etag) VALUES (?, ?, ?)', id, part.partNumber, part.etag);
  }

  /**
   * Writes the area as the object `dataObject(id)`: waits for background
   * uploads, uploads every part still missing (gaps as zeros) and completes
   * the upload. The object is not referenced by any version until the caller
   * publishes it.
   */
  async finish(id: string): Promise<{ obj: string; size: number }> {
    await this.flush(id);
    await this.uploads.get(id)?.catch(() => undefined);
    const row = this.db.live(id);
    const obj = dataObject(id);
    if (row.size === 0) {
      await this.bucket.put(obj, new Uint8Array(0));
      return { obj, size: 0 };
    }
    const P = partSizeFor(row.size);
    const count = Math.ceil(row.size / P);
    const upload = await this.upload(id);
    const have = this.db.etags(id);
    const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !have.has(k + 1));
    const worker = async () => {
      for (let k = missing.shift(); k !== undefined; k = missing.shift()) {
        const start = k * P;
        const end = Math.min(row.size, start + P);
        const part = await uploadSegments(this.bucket, upload, k + 1, segments(this.db.extents(id, start, end), start, end));
        have.set(part.partNumber, part.etag);
      }
    };
    // UPLOADS at a time: each holds an upload and a read, and workerd allows 6 open connections per request.
    await Promise.all(Array.from({ length: UPLOADS }, worker));
    await upload.complete([...have].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag })));
    return { obj, size: row.size };
  }

  private async resize(id: string, size: number): Promise<void> {
    const row = this.touch(id);
    if (row.key === null) throw new StoreError('INVALID_ARGUMENT', `staging ${id} has a fixed size; resize(${size}) is for in-place handles`);
    checkStagingSize(size, 'resize: size');
    await this.flush(id);
    this.db.truncateExtents(id, size);
    this.db.sql.exec('UPDATE staging SET size = ? WHERE id = ?', size, id);
  }

  /** Drops an area: its pending writes, pieces, upload and rows (an in-place handle stays as a spent tombstone). */
  async discard(id: string, tombstone?: boolean): Promise<void> {
    const row = this.db.staging(id);
    if (!row || row.retired) return;
    this.pending.delete(id);
    await this.uploads.get(id)?.catch(() => undefined);
    this.db.dropStaging(id, tombstone ?? row.key !== null);
    await this.cleanup(id, row.upload_id);
  }

  /** Deletes an area's R2 leftovers: pieces of literal bytes and an unfinished upload. */
  async cleanup(id: string, uploadId: string | null): Promise<void> {
    if (uploadId)
      await this.bucket
        .resumeMultipartUpload(dataObject(id), uploadId)
        .abort()
        .catch(() => undefined);
    for (let cursor: string | undefined; ; ) {
      const page = await this.bucket.list({ prefix: `p/${hexOf(id)}/`, cursor });
      if (page.objects.length) await this.bucket.delete(page.objects.map((o) => o.key));
      if (!page.truncated) break;
      cursor = page.cursor;
    }
  }

  /** A new area row; in place, `basis` names the version and object copies read. */
  create(id: string, size: number, basis?: { key: string; version: string; obj: string; size: number }): Staging {
    this.db.sql.exec(
      'INSERT INTO staging (id, size, touched, key, basis, basis_data, basis_size) VALUES (?, ?, ?, ?, ?, ?, ?)',
      id,
      size,
      this.now(),
      basis?.key ?? null,
      basis?.version ?? null,
      basis?.obj ?? null,
      basis?.size ?? null,
    );
    return this.handle(id);
  }
}
