// The file-system store: the Node server's default. Each key is a plain
// file under the store's folder, byte-identical to what was pushed; metadata,
// staging areas and sessions live in its .deltaflare folder. The layout, how
// versions are told apart and the commit's order are in docs/architecture.md
// ("The fs store"). Commits, in-place opens and deletes of one key are
// serialized in-process: run one server per store folder.
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Manifest } from '../../../core/protocol/manifest.js';
import { KeyLocks } from '../key-lock.js';
import { Rewrites } from './rewrites.js';
import { type SweepHost, sweepStore } from './sweep.js';
import { type PublishHost, STAGING_ID, recordVersion, swapInPlace, swapStaged } from './publish.js';
import { checkCase, checkPortableKey, probeCaseInsensitive } from './names.js';
import { META_DIR, validateKey, validatePrefix } from '../keys.js';
import { type FileRef, type FsFacade, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, errno, ioError, mkdirDurable, nodeFs } from './facade.js';
import { FsMeta, handPlacedVersion, sameStat, statId } from './meta.js';
import { checkParents, dataPath, notFound, openData } from './paths.js';
import { FsSessions, readBootId } from './sessions.js';
import { FsInPlace, FsStagingArea, type FsStagingHost, type OpenedVersion, readFully } from './staging.js';
import { readStream } from './read.js';
import { listKeys } from './list.js';
import {
  type CommitOptions,
  type ListPage,
  type SessionRecord,
  type Staging,
  type Store,
  StoreError,
  type VersionInfo,
  checkReadLength,
  checkSpan,
  checkListLimit,
  checkRoot,
  checkStagingSize,
  conflict,
} from '../store.js';
import type { BigIntStats } from 'node:fs';

/** Options for `FsStore.open`. */
export interface FsStoreOptions {
  /** File-system calls (tests record or fail them); default node:fs. */
  fs?: FsFacade;
  /** Clock for commit times and markers; default Date.now. */
  now?: () => number;
  /**
   * Whether the folder's file system is case-insensitive (macOS, Windows):
   * then keys it would alias are refused (fs-names.ts). Default: probed when
   * the store opens (always on Windows).
   */
  caseInsensitive?: boolean;
  /**
   * The machine's boot id (default: read from /proc/sys/kernel/random/boot_id).
   * Null: unknown, so session state is fsync'd write by write. Tests pass
   * another id to play a machine restart.
   */
  bootId?: string | null;
}

const IN_PLACE_ID = /^ip-([0-9a-f]{64})-[0-9a-f]{16}$/;

/**
 * A store keeping each key as a plain file under one directory.
 *
 * @example
 * const store = await FsStore.open('./data');
 * const s = await store.createStaging(bytes.length);
 * await s.writeAt(0, bytes);
 * await store.commit('disk.img', s.id, { expectedVersion: null });
 */
export class FsStore implements Store, FsStagingHost {
  readonly fs: FsFacade;
  private readonly meta: FsMeta;
  private readonly sessions: FsSessions;
  /** True when session state is fsync'd write by write (no boot id): staging areas then fsync on flush. */
  readonly syncSessions: boolean;
  private readonly stagingDir: string;
  private readonly now: () => number;
  private readonly locks = new KeyLocks();
  /** In-place rewrites and operations in flight, in this process. */
  private readonly rewrites = new Rewrites();

  /** The file system may alias keys (fs-names.ts): set by open(). */
  private aliasing = false;

  private constructor(
    readonly dir: string,
    opts: FsStoreOptions,
    bootId: string | null,
  ) {
    this.fs = opts.fs ?? nodeFs;
    this.now = opts.now ?? Date.now;
    this.meta = new FsMeta(this.fs, join(dir, META_DIR));
    this.sessions = new FsSessions(this.fs, join(dir, META_DIR, 'sessions'), bootId);
    this.syncSessions = bootId === null;
    this.stagingDir = join(dir, META_DIR, 'staging');
  }

  /** What the commit (publish.ts) works with. */
  private get host(): PublishHost {
    return {
      fs: this.fs,
      meta: this.meta,
      dir: this.dir,
      stagingDir: this.stagingDir,
      rewrites: this.rewrites,
      now: this.now,
      current: (key) => this.current(key),
      openInPlaceTarget: (key, id) => this.openInPlaceTarget(key, id),
    };
  }

  /** What the sweep (sweep.ts) works with. */
  private get sweepHost(): SweepHost {
    return {
      fs: this.fs,
      stagingDir: this.stagingDir,
      sessions: this.sessions,
      discardStaging: (id) => new FsStagingArea(this, id, join(this.stagingDir, id)).discard(),
      endInPlace: (key, id) => this.endInPlace(key, id),
    };
  }

  /** Opens (creating if needed) a store in `dir`. */
  static async open(dir: string, opts: FsStoreOptions = {}): Promise<FsStore> {
    const store = new FsStore(resolve(dir), opts, opts.bootId === undefined ? await readBootId() : opts.bootId);
    try {
      for (const sub of ['keys', 'staging', 'sessions']) await mkdirDurable(store.fs, join(store.dir, META_DIR, sub));
      store.aliasing = opts.caseInsensitive ?? (process.platform === 'win32' || (await probeCaseInsensitive(store.fs, join(store.dir, META_DIR))));
    } catch (e) {
      throw ioError(`open store ${store.dir}`, e);
    }
    return store;
  }

  /** Where the file system may alias keys (this.aliasing), refuses those it would. */
  private async checkAlias(key: string): Promise<void> {
    checkPortableKey(key);
    await checkCase(this.fs, this.dir, key);
  }

  async head(key: string): Promise<VersionInfo | null> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    try {
      return await this.current(key);
    } catch (e) {
      throw ioError(`head ${JSON.stringify(key)}`, e);
    }
  }

  async read(key: string, opts: { version?: string; offset?: number; length?: number } = {}) {
    const o = await this.openVersion(key, opts.version);
    const offset = opts.offset ?? 0;
    const length = opts.length ?? Math.max(0, o.info.size - offset);
    try {
      checkSpan(`read ${JSON.stringify(key)}`, offset, length, o.info.size);
    } catch (e) {
      await this.fs.close(o.f).catch(() => undefined);
      throw e;
    }
    return { info: o.info, body: readStream(this.fs, o, offset, offset + length) };
  }

  async readRange(key: string, version: string, offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readRange', length);
    const o = await this.openVersion(key, version);
    try {
      checkSpan(`readRange ${JSON.stringify(key)}`, offset, length, o.info.size);
      const buf = new Uint8Array(length);
      await readFully(this.fs, o.f, buf, offset);
      o.check();
      return buf;
    } catch (e) {
      throw ioError(`readRange ${JSON.stringify(key)}`, e);
    } finally {
      await this.fs.close(o.f).catch(() => undefined);
    }
  }

  async list(prefix: string, limit: number, cursor?: string): Promise<ListPage> {
    validatePrefix(prefix);
    checkListLimit(limit);
    const keys = (await listKeys(this.fs, this.dir, prefix)).filter((k) => cursor === undefined || k > cursor);
    const entries = [];
    let i = 0;
    for (; i < keys.length && entries.length < limit; i++) {
      // null: deleted since the walk.
      const version = await this.current(keys[i]).catch((e) => Promise.reject(ioError(`list ${JSON.stringify(keys[i])}`, e)));
      if (version) entries.push({ key: keys[i], version });
    }
    return i < keys.length ? { entries, cursor: keys[i - 1] } : { entries };
  }

  async delete(key: string, expectedVersion?: string): Promise<void> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    await this.locks.run(key, async () => {
      try {
        const cur = await this.current(key);
        if (!cur) throw notFound(key);
        if (expectedVersion !== undefined && cur.id !== expectedVersion) throw conflict(key, cur.id, expectedVersion);
        this.rewrites.drop(key);
        const path = dataPath(this.dir, key);
        await this.fs.unlink(path);
        await this.fs.fsyncDir(dirname(path));
        await this.meta.removeKey(key);
      } catch (e) {
        throw ioError(`delete ${JSON.stringify(key)}`, e);
      }
    });
  }

  async getManifest(key: string, version: string, chunkingId: string): Promise<Manifest | null> {
    await this.requireCurrent(key, version);
    try {
      return await this.meta.getManifest(key, version, chunkingId);
    } catch (e) {
      throw ioError(`get manifest of ${JSON.stringify(key)}`, e);
    }
  }

  async listManifests(key: string, version: string): Promise<string[]> {
    await this.requireCurrent(key, version);
    try {
      return await this.meta.listManifests(key, version);
    } catch (e) {
      throw ioError(`list manifests of ${JSON.stringify(key)}`, e);
    }
  }

  async putManifest(key: string, version: string, manifest: Manifest): Promise<void> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    await this.locks.run(key, async () => {
      const cur = await this.requireCurrent(key, version);
      if (manifest.size !== cur.size)
        throw new StoreError('INVALID_ARGUMENT', `manifest size ${manifest.size} is not the size ${cur.size} of ${JSON.stringify(key)}`);
      await this.meta.putManifest(key, version, manifest).catch((e) => {
        throw ioError(`put manifest of ${JSON.stringify(key)}`, e);
      });
    });
  }

  async createStaging(size: number): Promise<Staging> {
    checkStagingSize(size);
    const id = `st-${randomBytes(16).toString('hex')}`;
    const path = join(this.stagingDir, id);
    try {
      const f = await this.fs.open(path, O_RDWR | O_CREAT | O_EXCL, 0o600);
      try {
        await this.fs.truncate(f, size);
      } finally {
        await this.fs.close(f);
      }
    } catch (e) {
      await this.fs.unlink(path).catch(() => undefined);
      throw ioError(`create staging of ${size} bytes`, e);
    }
    return new FsStagingArea(this, id, path);
  }

  async staging(id: string): Promise<Staging> {
    if (STAGING_ID.test(id)) {
      const path = join(this.stagingDir, id);
      await this.fs.lstat(path).catch((e) => {
        throw errno(e) === 'ENOENT' ? new StoreError('NOT_FOUND', `staging ${id} does not exist`) : ioError(`staging ${id}`, e);
      });
      return new FsStagingArea(this, id, path);
    }
    const m = IN_PLACE_ID.exec(id);
    if (!m) throw new StoreError('INVALID_ARGUMENT', `${JSON.stringify(id)} is not a staging id`);
    const marker = await this.meta.markerByHash(m[1]).catch((e) => Promise.reject(ioError(`staging ${id}`, e)));
    if (!marker || marker.id !== id) throw new StoreError('NOT_FOUND', `in-place rewrite ${id} is not active`);
    if (this.rewrites.active(marker.key)?.id !== id) this.rewrites.start(marker.key, { id, dev: marker.dev, ino: marker.ino });
    return new FsInPlace(this, id, marker.key, marker.basis);
  }

  async openInPlace(key: string, expectedVersion: string): Promise<Staging> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    return this.locks.run(key, async () => {
      const f = await openData(this.fs, this.dir, key, O_RDONLY);
      let st: BigIntStats;
      try {
        st = await this.fs.fstat(f);
      } finally {
        await this.fs.close(f).catch(() => undefined);
      }
      const cur = await this.versionOf(key, st);
      if (cur.incomplete) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} is already being rewritten in place (${cur.id})`);
      if (cur.id !== expectedVersion) throw conflict(key, cur.id, expectedVersion);
      const id = `ip-${this.meta.keyHash(key)}-${randomBytes(8).toString('hex')}`;
      const s = statId(st);
      // Readers must stop trusting the file before the marker exists, and the marker must be durable before any byte changes.
      this.rewrites.start(key, { id, dev: s.dev, ino: s.ino });
      try {
        await this.meta.writeMarker({ key, id, basis: expectedVersion, dev: s.dev, ino: s.ino, created: this.now() });
      } catch (e) {
        this.rewrites.drop(key);
        throw ioError(`mark ${JSON.stringify(key)} incomplete`, e);
      }
      return new FsInPlace(this, id, key, expectedVersion);
    });
  }

  /**
   * See Store.commit. Once the rename (or, in place, the fsync) has happened
   * the commit has taken effect: if writing the version record, manifest or
   * marker removal fails afterwards, the result is the key's version as it
   * then reads (a hand-placed-style "h-" id without root, or INCOMPLETE),
   * not an error.
   */
  async commit(key: string, stagingId: string, opts: CommitOptions): Promise<VersionInfo> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    checkRoot(opts.root);
    return this.locks.run(key, async () => {
      this.rewrites.seal(stagingId);
      try {
        const st = IN_PLACE_ID.test(stagingId) ? await swapInPlace(this.host, key, stagingId, opts) : await swapStaged(this.host, key, stagingId, opts);
        return await recordVersion(this.host, key, st, opts);
      } catch (e) {
        throw ioError(`commit ${JSON.stringify(key)}`, e);
      } finally {
        this.rewrites.unseal(stagingId);
      }
    });
  }

  putSession(record: SessionRecord): Promise<void> {
    return this.sessions.put(record);
  }
  getSession(id: string): Promise<SessionRecord | null> {
    return this.sessions.get(id);
  }
  deleteSession(id: string): Promise<void> {
    return this.sessions.delete(id);
  }
  putSessionBlob(id: string, name: string, bytes: Uint8Array): Promise<void> {
    return this.sessions.putBlob(id, name, bytes);
  }
  getSessionBlob(id: string, name: string): Promise<Uint8Array | null> {
    return this.sessions.getBlob(id, name);
  }
  listSessionBlobs(id: string): Promise<string[]> {
    return this.sessions.listBlobs(id);
  }
  async listSessions(): Promise<SessionRecord[]> {
    return this.sessions.all();
  }

  sweep(now: number): Promise<string[]> {
    return sweepStore(this.sweepHost, now);
  }

  // ---- FsStagingHost ----

  /** Opens `key` for reading at `version` (any version if undefined); INCOMPLETE while rewritten in place. */
  async openVersion(key: string, version?: string): Promise<OpenedVersion> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    const gen = this.rewrites.generation(key);
    const check = () => {
      if (this.rewrites.active(key) || this.rewrites.generation(key) !== gen) {
        throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is being rewritten in place; read it after the push completes`);
      }
    };
    const f = await openData(this.fs, this.dir, key, O_RDONLY);
    try {
      check();
      const info = await this.versionOf(key, await this.fs.fstat(f));
      if (info.incomplete)
        throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is incomplete (an in-place push has not finished); push it again to complete it`);
      if (version !== undefined && info.id !== version) throw conflict(key, info.id, version);
      return { f, info, check };
    } catch (e) {
      await this.fs.close(f).catch(() => undefined);
      throw ioError(`open ${JSON.stringify(key)}`, e);
    }
  }

  async openInPlaceTarget(key: string, id: string): Promise<FileRef> {
    const active = this.rewrites.active(key);
    if (active?.id !== id)
      throw new StoreError('CONFLICT', `in-place rewrite ${id} of ${JSON.stringify(key)} is no longer active (committed, discarded or replaced)`);
    const f = await openData(this.fs, this.dir, key, O_RDWR);
    const st = await this.fs.fstat(f);
    if (String(st.dev) !== active.dev || String(st.ino) !== active.ino) {
      await this.fs.close(f).catch(() => undefined);
      throw new StoreError('CONFLICT', `the file of ${JSON.stringify(key)} was replaced during in-place rewrite ${id}`);
    }
    return f;
  }

  endInPlace(key: string, id: string): void {
    this.rewrites.end(key, id);
  }

  enter(id: string): void {
    this.rewrites.enter(id);
  }

  leave(id: string): void {
    this.rewrites.leave(id);
  }

  // ---- internals ----

  /** The version a data file with stat `st` is (see the layout comment). */
  private async versionOf(key: string, st: BigIntStats): Promise<VersionInfo> {
    const marker = await this.meta.readMarker(key);
    if (marker) return { id: marker.id, size: Number(st.size), time: marker.created, incomplete: true };
    const rec = await this.meta.readRecord(key);
    if (rec && sameStat(rec.stat, statId(st)))
      return { id: rec.id, size: rec.size, time: rec.time, ...(rec.root ? { root: rec.root } : {}), ...(rec.metadata ? { metadata: rec.metadata } : {}) };
    return handPlacedVersion(st);
  }

  /** The key's current version by lstat, or null if no regular file is there. */
  private async current(key: string): Promise<VersionInfo | null> {
    if (!(await checkParents(this.fs, this.dir, key, false))) return null;
    let st: BigIntStats;
    try {
      st = await this.fs.lstat(dataPath(this.dir, key));
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return null;
      throw e;
    }
    if (st.isSymbolicLink()) throw new StoreError('INVALID_KEY', `key ${JSON.stringify(key)} is a symbolic link; the store does not follow links`);
    return st.isFile() ? this.versionOf(key, st) : null;
  }

  private async requireCurrent(key: string, version: string): Promise<VersionInfo> {
    validateKey(key);
    if (this.aliasing) await this.checkAlias(key);
    const cur = await this.current(key).catch((e) => Promise.reject(ioError(`head ${JSON.stringify(key)}`, e)));
    if (!cur) throw notFound(key);
    if (cur.incomplete) throw new StoreError('INCOMPLETE', `key ${JSON.stringify(key)} is incomplete`);
    if (cur.id !== version) throw conflict(key, cur.id, version);
    return cur;
  }
}
