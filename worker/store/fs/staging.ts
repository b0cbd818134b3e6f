// The fs store's two kinds of `Staging`: a staging area (a sparse file under
// `.deltaflare/staging/`, renamed over the key at commit) and an in-place
// handle (the key's own file, guarded by the incomplete marker). Both open
// their file per call, so any number of requests may write concurrently and
// a handle reopened by id after a restart behaves the same.
import { BufferPool } from '../../../core/base/buffer-pool.js';
import { ByteBudget } from '../../../core/base/byte-budget.js';
import { type FileRef, type FsFacade, O_RDWR, errno, ioError } from './facade.js';
import { COPY_PIECE, type Staging, StoreError, type VersionInfo, checkReadLength, checkSpan, checkStagingSize } from '../store.js';

/**
 * Copy buffers, shared by every session of the process: at most 8 copies run
 * at once (8 MiB), whatever the number of sessions. Each session runs 4
 * (concurrentCalls); unbounded, 16 concurrent delta pushes held ~10 MiB each
 * (bench:concurrent: server peak 239 MiB vs 82 MiB for one push).
 */
const copyBuffers = new BufferPool(8, COPY_PIECE);
const copyBudget = new ByteBudget(8 * COPY_PIECE);

/** A key opened at one version for reading. */
export interface OpenedVersion {
  f: FileRef;
  info: VersionInfo;
  /** Throws INCOMPLETE if an in-place rewrite of the key started since it was opened. */
  check(): void;
}

/** What the handles need from the store. */
export interface FsStagingHost {
  readonly fs: FsFacade;
  /** False when session state lives unsynced under a boot id: staging areas need no fsync before commit (which fsyncs). */
  readonly syncSessions: boolean;
  openVersion(key: string, version: string): Promise<OpenedVersion>;
  /** Opens the file an in-place handle rewrites, checking the rewrite is still the active one. */
  openInPlaceTarget(key: string, id: string): Promise<FileRef>;
  /** Forgets an in-place handle in this process; the marker stays. */
  endInPlace(key: string, id: string): void;
  /** Counts an operation on a handle as in flight (CONFLICT if its commit has begun); `leave` ends it. */
  enter(id: string): void;
  leave(id: string): void;
}

/** Reads exactly `buf.length` bytes at `position` (IO if the file ends first). */
export async function readFully(fs: FsFacade, f: FileRef, buf: Uint8Array, position: number): Promise<void> {
  for (let n = 0; n < buf.length; ) {
    const got = await fs.read(f, buf.subarray(n), position + n);
    if (got === 0) throw new StoreError('IO', `${f.path}: file ended at ${position + n}, ${buf.length - n} bytes short`);
    n += got;
  }
}

abstract class FsHandle implements Staging {
  /**
   * Calls on disjoint ranges may run at once (each opens the file itself):
   * rebuild.ts and parts.ts run up to this many, matching libuv's 4 threads.
   */
  readonly concurrentCalls = 4;

  constructor(
    protected readonly host: FsStagingHost,
    readonly id: string,
  ) {}

  protected abstract openTarget(): Promise<FileRef>;
  /** In place: true if `key` is the file being rewritten (then copies read it directly). */
  protected isSelf(_key: string, _version: string): boolean {
    return false;
  }
  abstract resize(size: number): Promise<void>;
  abstract discard(): Promise<void>;

  protected async withTarget<T>(what: string, fn: (f: FileRef, size: number) => Promise<T>): Promise<T> {
    const fs = this.host.fs;
    // Synchronously, before any await: a commit that starts after this line sees the operation in flight.
    this.host.enter(this.id);
    try {
      const f = await this.openTarget();
      try {
        return await fn(f, Number((await fs.fstat(f)).size));
      } finally {
        await fs.close(f).catch(() => undefined);
      }
    } catch (e) {
      throw ioError(`${what} (${this.id})`, e);
    } finally {
      this.host.leave(this.id);
    }
  }

  size(): Promise<number> {
    return this.withTarget('size', async (_f, size) => size);
  }

  writeAt(offset: number, bytes: Uint8Array): Promise<void> {
    return this.withTarget('writeAt', async (f, size) => {
      checkSpan('writeAt', offset, bytes.length, size);
      await this.host.fs.write(f, bytes, offset);
    });
  }

  async readAt(offset: number, length: number): Promise<Uint8Array> {
    checkReadLength('readAt', length);
    return await this.withTarget('readAt', async (f, size) => {
      checkSpan('readAt', offset, length, size);
      const buf = new Uint8Array(length);
      await readFully(this.host.fs, f, buf, offset);
      return buf;
    });
  }

  flush(): Promise<void> {
    return this.withTarget('flush', (f) => this.host.fs.fsync(f));
  }

  copyFrom(sourceKey: string, sourceVersion: string, srcOffset: number, length: number, dstOffset: number): Promise<void> {
    const fs = this.host.fs;
    return this.withTarget('copyFrom', async (dst, dstSize) => {
      checkSpan('copyFrom destination', dstOffset, length, dstSize);
      const self = this.isSelf(sourceKey, sourceVersion);
      const src = self ? null : await this.host.openVersion(sourceKey, sourceVersion);
      try {
        const from = src ? src.f : dst;
        checkSpan('copyFrom source', srcOffset, length, src ? src.info.size : dstSize);
        // Within one file, copy back to front when the destination overlaps the source's tail (memmove).
        const backward = self && dstOffset > srcOffset && dstOffset < srcOffset + length;
        await copyBudget.run(COPY_PIECE, async () => {
          const buf = copyBuffers.take();
          try {
            for (let done = 0; done < length; ) {
              const n = Math.min(buf.length, length - done);
              const at = backward ? length - done - n : done;
              await readFully(fs, from, buf.subarray(0, n), srcOffset + at);
              src?.check();
              await fs.write(dst, buf.subarray(0, n), dstOffset + at);
              done += n;
            }
          } finally {
            copyBuffers.give(buf);
          }
        });
      } finally {
        if (src) await fs.close(src.f).catch(() => undefined);
      }
    });
  }
}

/** A staging area: `<dir>/.deltaflare/staging/<id>`, fixed size. */
export class FsStagingArea extends FsHandle {
  constructor(
    host: FsStagingHost,
    id: string,
    readonly path: string,
  ) {
    super(host, id);
  }

  protected async openTarget(): Promise<FileRef> {
    try {
      return await this.host.fs.open(this.path, O_RDWR);
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new StoreError('NOT_FOUND', `staging ${this.id} does not exist (committed, discarded or swept)`);
      throw ioError(`open staging ${this.id}`, e);
    }
  }

  /** Staged bytes are session state (see FsSessions): fsync'd here only without a boot id; the commit fsyncs them anyway. */
  override flush(): Promise<void> {
    return this.host.syncSessions ? super.flush() : Promise.resolve();
  }

  async resize(size: number): Promise<void> {
    throw new StoreError('INVALID_ARGUMENT', `staging ${this.id} has a fixed size; resize(${size}) is for in-place handles`);
  }

  async discard(): Promise<void> {
    await this.host.fs.unlink(this.path).catch((e) => {
      if (errno(e) !== 'ENOENT') throw ioError(`discard staging ${this.id}`, e);
    });
  }
}

/** An in-place handle on the key's own file. */
export class FsInPlace extends FsHandle {
  constructor(
    host: FsStagingHost,
    id: string,
    readonly key: string,
    readonly basis: string,
  ) {
    super(host, id);
  }

  protected openTarget(): Promise<FileRef> {
    return this.host.openInPlaceTarget(this.key, this.id);
  }

  protected override isSelf(key: string, version: string): boolean {
    if (key !== this.key) return false;
    if (version !== this.basis) {
      throw new StoreError('CONFLICT', `in-place copy from ${JSON.stringify(key)} names version ${version}, but the rewrite started from ${this.basis}`);
    }
    return true;
  }

  async resize(size: number): Promise<void> {
    checkStagingSize(size, 'resize: size');
    await this.withTarget('resize', (f) => this.host.fs.truncate(f, size));
  }

  async discard(): Promise<void> {
    this.host.endInPlace(this.key, this.id);
  }
}
