// The file-system calls the fs store makes, behind a thin facade so tests can
// record their order (fsync before rename, rename before the version record)
// and inject faults (ENOSPC on the Nth write) without mocking node:fs.
import { randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import { constants } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError } from '../store.js';

/** An open file and the path it was opened by (for logs and fault rules). */
export interface FileRef {
  readonly handle: FileHandle;
  readonly path: string;
}

/** Every file-system operation the fs store uses. */
export interface FsFacade {
  open(path: string, flags: number, mode?: number): Promise<FileRef>;
  /** Reads up to `buf.length` bytes at `position`; returns how many were read. */
  read(f: FileRef, buf: Uint8Array, position: number): Promise<number>;
  /** Writes all of `buf` at `position`. */
  write(f: FileRef, buf: Uint8Array, position: number): Promise<void>;
  truncate(f: FileRef, length: number): Promise<void>;
  fsync(f: FileRef): Promise<void>;
  fstat(f: FileRef): Promise<BigIntStats>;
  close(f: FileRef): Promise<void>;
  /** fsyncs a directory, making renames and unlinks in it durable. */
  fsyncDir(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  lstat(path: string): Promise<BigIntStats>;
  readdir(path: string): Promise<Dirent[]>;
  rmTree(path: string): Promise<void>;
}

/** The real thing: node:fs/promises. */
export const nodeFs: FsFacade = {
  async open(path, flags, mode = 0o644) {
    return { handle: await fsp.open(path, flags, mode), path };
  },
  async read(f, buf, position) {
    return (await f.handle.read(buf, 0, buf.length, position)).bytesRead;
  },
  async write(f, buf, position) {
    // FileHandle.write may write less than asked (e.g. near a full disk); loop until all is written.
    for (let done = 0; done < buf.length; ) {
      const { bytesWritten } = await f.handle.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  },
  truncate: (f, length) => f.handle.truncate(length),
  fsync: (f) => f.handle.sync(),
  fstat: (f) => f.handle.stat({ bigint: true }),
  close: (f) => f.handle.close(),
  async fsyncDir(path) {
    const h = await fsp.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  mkdir: async (path) => {
    await fsp.mkdir(path);
  },
  lstat: (path) => fsp.lstat(path, { bigint: true }),
  readdir: (path) => fsp.readdir(path, { withFileTypes: true }),
  rmTree: (path) => fsp.rm(path, { recursive: true, force: true }),
};

/** The errno code of an error thrown by node:fs, if any. */
export function errno(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** Wraps a file-system failure as StoreError IO (StoreErrors pass through). */
export function ioError(what: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError('IO', `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** O_NOFOLLOW: opening a symbolic link fails with ELOOP instead of following it. */
export const NOFOLLOW = constants.O_NOFOLLOW;
export const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_WRONLY } = constants;

/** Opens a file, runs `fn`, and always closes it. */
export async function withFile<T>(fs: FsFacade, path: string, flags: number, fn: (f: FileRef) => Promise<T>): Promise<T> {
  const f = await fs.open(path, flags);
  try {
    return await fn(f);
  } finally {
    await fs.close(f).catch(() => undefined);
  }
}

/**
 * Replaces `path` with `bytes` so that a crash leaves the old or the new
 * content, never a mix: write a temp file beside it, fsync it, rename it over
 * `path`, fsync the directory. With `sync` false (session state stamped with
 * the boot id, fs-sessions.ts) only temp + rename: a killed process still
 * leaves the old or the new file, an OS crash may leave neither.
 */
export async function writeFileAtomic(fs: FsFacade, path: string, bytes: Uint8Array, sync = true): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await withFile(fs, tmp, O_WRONLY | O_CREAT | O_EXCL, async (f) => {
      await fs.write(f, bytes, 0);
      if (sync) await fs.fsync(f);
    });
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (sync) await fs.fsyncDir(dirname(path));
}

/** Reads a whole small file (metadata, never data), or null if it does not exist. */
export async function readSmallFile(fs: FsFacade, path: string): Promise<Uint8Array | null> {
  let f: FileRef;
  try {
    f = await fs.open(path, O_RDONLY | NOFOLLOW);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return null;
    throw e;
  }
  try {
    const size = Number((await fs.fstat(f)).size);
    const buf = new Uint8Array(size);
    let n = 0;
    while (n < size) {
      const got = await fs.read(f, buf.subarray(n), n);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    await fs.close(f).catch(() => undefined);
  }
}

/** Creates `path` and any missing parents, fsyncing each parent whose entries changed. */
export async function mkdirDurable(fs: FsFacade, path: string): Promise<void> {
  try {
    await fs.mkdir(path);
  } catch (e) {
    if (errno(e) === 'EEXIST') return;
    if (errno(e) !== 'ENOENT') throw e;
    await mkdirDurable(fs, dirname(path));
    try {
      await fs.mkdir(path);
    } catch (e2) {
      if (errno(e2) !== 'EEXIST') throw e2;
      return;
    }
  }
  await fs.fsyncDir(dirname(path));
}
