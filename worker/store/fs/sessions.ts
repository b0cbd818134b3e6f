// Upload session records of the fs store: one JSON file per session under
// `<dir>/.deltaflare/sessions/<id>.json`, replaced atomically on every put,
// and its blobs in `<id>.blobs/<name>` beside it.
//
// Durability. Session state only has to outlive the server process, not the
// machine: a killed process loses nothing that reached the page cache, and a
// session lost to an OS crash costs the client one new session. So when the
// machine's boot id can be read (Linux), records and blobs are written with
// temp + rename but no fsync, and every record is stamped with the boot id:
// a record from another boot reads as `lost` (SESSION_EXPIRED, swept). Each
// fsync'd write cost 10-80 ms on the bench machine (temp fsync + dir fsync),
// paid by every match batch and part. Without a boot id every write is
// fsync'd as before.
import type { Dirent } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FsFacade, errno, ioError, mkdirDurable, readSmallFile, writeFileAtomic } from './facade.js';
import { type SessionRecord, checkBlob, checkSessionId, encodeSession } from '../store.js';

/** The session files of one fs store. */
export class FsSessions {
  /** Blob folders known to exist (created by this process): saves a mkdir per blob. */
  private readonly blobDirs = new Set<string>();

  constructor(
    private readonly fs: FsFacade,
    /** `<dir>/.deltaflare/sessions` */
    readonly dir: string,
    /** The machine's boot id: writes skip fsync and records carry it. Null: unknown, every write is fsync'd. */
    readonly boot: string | null,
  ) {}

  async put(record: SessionRecord): Promise<void> {
    const { lost: _, ...rest } = record;
    const bytes = encodeSession(this.boot ? ({ ...rest, boot: this.boot } as SessionRecord) : rest);
    try {
      await writeFileAtomic(this.fs, join(this.dir, `${record.id}.json`), bytes, !this.boot);
    } catch (e) {
      throw ioError(`put session ${record.id}`, e);
    }
  }

  /** The record, or null. IO if the file exists but is not a record (atomic writes make that a disk fault). */
  async get(id: string): Promise<SessionRecord | null> {
    checkSessionId(id);
    let bytes: Uint8Array | null;
    try {
      bytes = await readSmallFile(this.fs, join(this.dir, `${id}.json`));
    } catch (e) {
      throw ioError(`get session ${id}`, e);
    }
    if (!bytes) return null;
    let record: SessionRecord & { boot?: string };
    try {
      record = JSON.parse(new TextDecoder().decode(bytes)) as SessionRecord;
    } catch (e) {
      throw ioError(`session ${id} is not valid JSON`, e);
    }
    const { boot, ...rest } = record;
    // A record without a stamp was written with fsyncs: it holds across boots.
    if (boot !== undefined && boot !== this.boot) {
      return {
        ...rest,
        lost: `the server's machine restarted since it was written (boot ${String(boot).slice(0, 8)}, now ${this.boot?.slice(0, 8) ?? 'unknown'}), so its unsynced state may be gone`,
      };
    }
    return rest;
  }

  /** Removes a record and its blobs (no-op if absent); the record goes first, so a crash leaves only orphan blobs for sweep. */
  async delete(id: string): Promise<void> {
    checkSessionId(id);
    try {
      await this.fs.unlink(join(this.dir, `${id}.json`));
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw ioError(`delete session ${id}`, e);
    }
    this.blobDirs.delete(id);
    await this.fs.rmTree(join(this.dir, `${id}.blobs`)).catch((e) => Promise.reject(ioError(`delete blobs of session ${id}`, e)));
  }

  async putBlob(id: string, name: string, bytes: Uint8Array): Promise<void> {
    checkSessionId(id);
    checkBlob(name, bytes);
    try {
      const dir = join(this.dir, `${id}.blobs`);
      if (!this.boot) await mkdirDurable(this.fs, dir);
      else if (!this.blobDirs.has(id)) {
        await this.fs.mkdir(dir).catch((e) => (errno(e) === 'EEXIST' ? undefined : Promise.reject(e)));
        this.blobDirs.add(id);
      }
      await writeFileAtomic(this.fs, join(dir, name), bytes, !this.boot);
    } catch (e) {
      throw ioError(`put blob ${name} of session ${id}`, e);
    }
  }

  async getBlob(id: string, name: string): Promise<Uint8Array | null> {
    checkSessionId(id);
    checkSessionId(name, 'blob name');
    return readSmallFile(this.fs, join(this.dir, `${id}.blobs`, name)).catch((e) => Promise.reject(ioError(`get blob ${name} of session ${id}`, e)));
  }

  async listBlobs(id: string): Promise<string[]> {
    checkSessionId(id);
    const entries = await this.fs
      .readdir(join(this.dir, `${id}.blobs`))
      .catch((e) => (errno(e) === 'ENOENT' ? [] : Promise.reject(ioError(`list blobs of session ${id}`, e))));
    return entries
      .map((e) => e.name)
      .filter((n) => /^[A-Za-z0-9_-]{1,128}$/.test(n))
      .sort();
  }

  /** Every readable record (unreadable files are skipped here; `get` reports them). */
  async all(): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    let entries: Dirent[];
    try {
      entries = await this.fs.readdir(this.dir);
    } catch (e) {
      throw ioError('list sessions', e);
    }
    for (const e of entries) {
      const m = /^([A-Za-z0-9_-]{1,128})\.json$/.exec(e.name);
      if (!m) continue;
      const r = await this.get(m[1]).catch(() => null);
      if (r) out.push(r);
    }
    return out;
  }
}

/** Linux's id of the current boot (changes at every boot), or null where it cannot be read. */
export async function readBootId(): Promise<string | null> {
  try {
    const id = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    return /^[0-9a-f-]{8,64}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}
