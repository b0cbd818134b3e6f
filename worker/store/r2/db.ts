// The Durable Object's SQLite tables: upload sessions and their blobs, staging
// areas, their extents (which bytes of the new file come from which R2 object),
// the R2 objects the key owns and who holds them (objects.ts), and a
// compaction in progress with its multipart parts' ETags (compaction.ts). A row holds at
// most 2 MB on Durable Objects, so session records and blobs (up to 64 MiB)
// are cut into 1 MiB pieces.
import { StoreError } from '../store.js';

/** Bytes per stored piece of a session record or blob (1 MiB, under the 2 MB row limit). */
const PIECE = 1 << 20;
/** Reserved blob name holding a session record as JSON (blob names are 1+ characters, so '' never collides). */
export const RECORD = '';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (sid TEXT NOT NULL, name TEXT NOT NULL, i INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sid, name, i));
CREATE TABLE IF NOT EXISTS staging (
  id TEXT PRIMARY KEY, size INTEGER NOT NULL, touched INTEGER NOT NULL, upload_id TEXT, seq INTEGER NOT NULL DEFAULT 0,
  key TEXT, basis TEXT, basis_data TEXT, basis_size INTEGER, retired INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS extents (st TEXT NOT NULL, dst INTEGER NOT NULL, len INTEGER NOT NULL, obj TEXT NOT NULL, off INTEGER NOT NULL, PRIMARY KEY (st, dst));
CREATE TABLE IF NOT EXISTS garbage (obj TEXT PRIMARY KEY, due INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS parts (st TEXT NOT NULL, n INTEGER NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (st, n));
CREATE INDEX IF NOT EXISTS extents_obj ON extents (obj);
CREATE TABLE IF NOT EXISTS self (one INTEGER PRIMARY KEY CHECK (one = 1), key TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flat (one INTEGER PRIMARY KEY CHECK (one = 1), version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS compacting (one INTEGER PRIMARY KEY CHECK (one = 1), version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (obj TEXT PRIMARY KEY, born INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS holders (holder TEXT PRIMARY KEY, until INTEGER);
CREATE TABLE IF NOT EXISTS refs (holder TEXT NOT NULL, obj TEXT NOT NULL, PRIMARY KEY (holder, obj));
CREATE INDEX IF NOT EXISTS refs_obj ON refs (obj);
CREATE TABLE IF NOT EXISTS compaction (
  obj TEXT PRIMARY KEY, holder TEXT NOT NULL, first INTEGER NOT NULL, count INTEGER NOT NULL, start INTEGER NOT NULL, len INTEGER NOT NULL,
  part_size INTEGER NOT NULL, upload_id TEXT);
`;

/** A run of the new file `[dst, dst + len)` whose bytes are `obj` at `off`. */
export interface Extent {
  dst: number;
  len: number;
  obj: string;
  off: number;
}

/** One staging area's row. */
export interface StagingRow {
  id: string;
  size: number;
  touched: number;
  upload_id: string | null;
  seq: number;
  /** In place only: the key, its basis version, the basis's data object and size. */
  key: string | null;
  basis: string | null;
  basis_data: string | null;
  basis_size: number | null;
  retired: number;
}

/**
 * Typed access to the tables of one Durable Object's SQLite database.
 * @example const db = new Db(ctx.storage.sql); db.putBlob('s_1', 'plan', bytes)
 */
export class Db {
  constructor(readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
  }

  putBlob(sid: string, name: string, bytes: Uint8Array): void {
    this.sql.exec('DELETE FROM blobs WHERE sid = ? AND name = ?', sid, name);
    for (let i = 0, at = 0; at < bytes.length || i === 0; i++, at += PIECE) {
      this.sql.exec('INSERT INTO blobs (sid, name, i, data) VALUES (?, ?, ?, ?)', sid, name, i, bytes.slice(at, at + PIECE).buffer);
    }
  }

  getBlob(sid: string, name: string): Uint8Array | null {
    const rows = this.sql.exec<{ data: ArrayBuffer }>('SELECT data FROM blobs WHERE sid = ? AND name = ? ORDER BY i', sid, name).toArray();
    if (rows.length === 0) return null;
    const out = new Uint8Array(rows.reduce((n, r) => n + r.data.byteLength, 0));
    let at = 0;
    for (const r of rows) {
      out.set(new Uint8Array(r.data), at);
      at += r.data.byteLength;
    }
    return out;
  }

  blobNames(sid: string): string[] {
    return this.sql
      .exec<{ name: string }>('SELECT DISTINCT name FROM blobs WHERE sid = ? AND name <> ? ORDER BY name', sid, RECORD)
      .toArray()
      .map((r) => r.name);
  }

  putSession(id: string, expires: number, json: Uint8Array): void {
    this.sql.exec('INSERT OR REPLACE INTO sessions (id, expires) VALUES (?, ?)', id, expires);
    this.putBlob(id, RECORD, json);
  }

  deleteSession(id: string): void {
    this.sql.exec('DELETE FROM sessions WHERE id = ?', id);
    this.sql.exec('DELETE FROM blobs WHERE sid = ?', id);
  }

  sessionIds(expiredBy?: number): string[] {
    const q =
      expiredBy === undefined
        ? this.sql.exec<{ id: string }>('SELECT id FROM sessions')
        : this.sql.exec<{ id: string }>('SELECT id FROM sessions WHERE expires <= ?', expiredBy);
    return q.toArray().map((r) => r.id);
  }

  staging(id: string): StagingRow | null {
    return this.sql.exec<StagingRow & Record<string, SqlStorageValue>>('SELECT * FROM staging WHERE id = ?', id).toArray()[0] ?? null;
  }

  /** A live staging row, NOT_FOUND if gone, CONFLICT if it was an in-place handle that is spent. */
  live(id: string): StagingRow {
    const row = this.staging(id);
    if (!row) throw new StoreError('NOT_FOUND', `staging ${id} does not exist (committed, discarded or swept)`);
    if (row.retired) throw new StoreError('CONFLICT', `in-place rewrite ${id} is no longer active (committed, discarded or replaced)`);
    return row;
  }

  /** Extents overlapping `[start, end)`, ascending: the one starting before `start` (if it reaches in) and those starting inside. */
  extents(st: string, start: number, end: number): Extent[] {
    const before = this.sql
      .exec<Extent & Record<string, SqlStorageValue>>('SELECT dst, len, obj, off FROM extents WHERE st = ? AND dst < ? ORDER BY dst DESC LIMIT 1', st, start)
      .toArray();
    const inside = this.sql
      .exec<Extent & Record<string, SqlStorageValue>>(
        'SELECT dst, len, obj, off FROM extents WHERE st = ? AND dst >= ? AND dst < ? ORDER BY dst',
        st,
        start,
        end,
      )
      .toArray();
    return [...before.filter((e) => e.dst + e.len > start), ...inside];
  }

  /** Records `[dst, dst + len)` as `obj` at `off`, trimming or splitting whatever it overlaps (the later write wins). */
  putExtent(st: string, e: Extent): void {
    const end = e.dst + e.len;
    for (const o of this.extents(st, e.dst, end)) {
      this.sql.exec('DELETE FROM extents WHERE st = ? AND dst = ?', st, o.dst);
      if (o.dst < e.dst) this.insert(st, { ...o, len: e.dst - o.dst });
      if (o.dst + o.len > end) this.insert(st, { dst: end, len: o.dst + o.len - end, obj: o.obj, off: o.off + (end - o.dst) });
    }
    this.insert(st, e);
  }

  /** Drops extents at or past `size` (an in-place resize). */
  truncateExtents(st: string, size: number): void {
    for (const o of this.extents(st, size, Number.MAX_SAFE_INTEGER)) {
      this.sql.exec('DELETE FROM extents WHERE st = ? AND dst = ?', st, o.dst);
      if (o.dst < size) this.insert(st, { ...o, len: size - o.dst });
    }
  }

  private insert(st: string, e: Extent): void {
    this.sql.exec('INSERT INTO extents (st, dst, len, obj, off) VALUES (?, ?, ?, ?, ?)', st, e.dst, e.len, e.obj, e.off);
  }

  /** The key this object serves (a Durable Object does not know the name it was reached by), once it has written. */
  selfKey(): string | null {
    return this.sql.exec<{ key: string }>('SELECT key FROM self').toArray()[0]?.key ?? null;
  }

  setSelfKey(key: string): void {
    this.sql.exec('INSERT OR REPLACE INTO self (one, key) VALUES (1, ?)', key);
  }

  /** Every extent of a staging area, ascending. */
  allExtents(st: string): Extent[] {
    return this.sql
      .exec<Extent & Record<string, SqlStorageValue>>('SELECT dst, len, obj, off FROM extents WHERE st = ? ORDER BY dst', st)
      .toArray()
      .map((e) => ({ dst: e.dst, len: e.len, obj: e.obj, off: e.off }));
  }

  etags(st: string): Map<number, string> {
    return new Map(
      this.sql
        .exec<{ n: number; etag: string }>('SELECT n, etag FROM parts WHERE st = ?', st)
        .toArray()
        .map((r) => [r.n, r.etag]),
    );
  }

  /** Removes a staging area's rows (extents, parts, and the row itself unless kept as a spent in-place tombstone). */
  dropStaging(id: string, keepTombstone: boolean): void {
    this.sql.exec('DELETE FROM extents WHERE st = ?', id);
    this.sql.exec('DELETE FROM parts WHERE st = ?', id);
    if (keepTombstone) this.sql.exec('UPDATE staging SET retired = 1, upload_id = NULL WHERE id = ?', id);
    else this.sql.exec('DELETE FROM staging WHERE id = ?', id);
  }
}
