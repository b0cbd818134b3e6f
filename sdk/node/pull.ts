// Pulling into a file on disk: the new version is written to FILE.deltaflare-pull
// beside FILE (what an interrupted pull leaves there is reused), fsynced and
// renamed over FILE, then the folder fsynced. FILE is replaced only when
// every chunk has been checked, and only if it was not changed meanwhile.
import { constants } from 'node:fs';
import { type FileHandle, lstat, open, stat, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { rename } from 'node:fs/promises';
import { DeltaflareError } from '../../core/base/errors.js';
import { createNodePool } from '../pool/node-pool.js';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { pull as pullCore } from '../pull/pull.js';
import { PULL_OPTIONS, PULL_SUFFIX, type PullOptions, type PullOutput, type PullResult } from '../pull/options.js';
import type { SyncSource } from '../source.js';
import { fileSource } from './file-source.js';

/** The file a pull updates, when given with the options. */
interface PullPath {
  /** The local file: read as the current copy if it exists, replaced by the version once it is complete and checked. */
  path: string;
}

/** Options of `pull`: those of the core with the pool made from `workers`. */
export type PullFileOptions = Omit<PullOptions, 'pool'> & {
  /** A pool of your own (e.g. shared by several pulls); `workers` is ignored then. */
  pool?: PullOptions['pool'];
  /** Worker threads scanning the local copy. Default: one per core (os.availableParallelism()). */
  workers?: number;
  /**
   * Rebuild inside the file itself, with no second copy on disk: moved chunks
   * are copied in an order that never reads overwritten bytes, the rest
   * fetched. A failure half-way leaves the file torn (pull again to finish).
   */
  inPlace?: boolean;
  /**
   * fsync the new file (and its folder, after the rename) before answering
   * (default true): after a crash the file is the old version or the new
   * one. false skips them, as rsync does unless given --fsync: the file is
   * replaced as soon as it is checked, and its pages reach the disk when
   * the kernel writes them back.
   */
  fsync?: boolean;
};

const PULL_FILE_OPTIONS: OptionKeys<PullFileOptions & { path: string }> = { ...PULL_OPTIONS, workers: true, inPlace: true, fsync: true, path: true };

/**
 * Updates the file at `path` to the key's current version, fetching only the
 * chunks it lacks (a missing file is a plain download). The path may also
 * come with the options, as `pull({ endpoint, key, path })`.
 * @example await pull('./model.bin', { endpoint: 'http://127.0.0.1:19876', key: 'model.bin' })
 */
export async function pull(path: string, options: PullFileOptions): Promise<PullResult>;
export async function pull(options: PullFileOptions & PullPath): Promise<PullResult>;
export async function pull(first: string | (PullFileOptions & PullPath), second?: PullFileOptions): Promise<PullResult> {
  const [path, options] = typeof first === 'string' ? [first, second!] : [first.path, first];
  if (typeof path !== 'string' || !options)
    throw new DeltaflareError('INVALID_ARGUMENT', 'pull needs a path and options: pull(path, { endpoint, key }) or pull({ endpoint, key, path })');
  checkOptions('pull', options, PULL_FILE_OPTIONS);
  const { workers, inPlace, fsync: fsyncOption, path: _path, ...core } = options as PullFileOptions & { path?: string };
  const before = await stat(path).catch(() => null);
  const fsync = fsyncOption ?? true;
  const local = before ? await fileSource(path) : null;
  const pool = options.pool ?? createNodePool(workers ?? availableParallelism());
  if (pool instanceof Promise) pool.catch(() => undefined); // surfaced where pull awaits it
  try {
    const open = inPlace && before ? (size: number) => openInPlace(path, size, before.size, fsync) : (size: number) => openOutput(path, size, before, fsync);
    return await pullCore(local, open, { ...core, pool });
  } finally {
    await local?.close?.();
    if (!options.pool)
      await Promise.resolve(pool).then(
        (p) => p.terminate(),
        () => undefined,
      );
  }
}

/**
 * The output file beside `path`: reused when an interrupted pull left one of
 * the same size. Never opened through a link: whatever else sits at its name
 * (a link planted there, a file of another size) is removed and the output
 * created exclusively, so a pull writes no file but its own.
 */
async function openOutput(path: string, size: number, before: Awaited<ReturnType<typeof stat>> | null, fsync: boolean): Promise<PullOutput> {
  const partial = `${path}${PULL_SUFFIX}`;
  const left = await lstat(partial).catch(() => null);
  const reuse = left?.isFile() === true && left.size === size;
  if (left && !reuse) await unlink(partial);
  const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
  const handle: FileHandle = await open(partial, reuse ? O_RDWR | O_NOFOLLOW : O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  if (!reuse) await handle.truncate(size);
  let resumed: SyncSource | null = null;
  if (reuse) resumed = await fileSource(partial);
  const flushing = fsync ? flushAsWritten(handle) : { stop: async () => {} };
  return {
    resumed,
    zeroed: !reuse, // created here and sized by truncate: a sparse file
    path: partial,
    writeAt: (offset, bytes) => writeFully(handle, offset, bytes),
    async publish() {
      await resumed?.close?.();
      await flushing.stop();
      if (fsync) await handle.sync();
      await handle.close();
      // Edited (or created) meanwhile by someone else: their bytes are not replaced.
      const now = await stat(path).catch(() => null);
      const same = before === null ? now === null : now !== null && now.ino === before.ino && now.size === before.size && now.mtimeMs === before.mtimeMs;
      if (!same) throw new DeltaflareError('SOURCE_CHANGED', `${path} changed during the pull: it was not replaced; the new version waits in ${partial}`);
      await rename(partial, path);
      if (!fsync) return;
      const dir = await open(dirname(path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    },
    async close() {
      await resumed?.close?.();
      await flushing.stop();
      await handle.close().catch(() => undefined);
    },
  };
}

/** The file itself as the output (a pull in place): nothing to move at the end, only to fsync. */
async function openInPlace(path: string, size: number, oldSize: number, fsync: boolean): Promise<PullOutput> {
  const handle = await open(path, 'r+');
  return {
    resumed: null,
    writeAt: (offset, bytes) => writeFully(handle, offset, bytes),
    inPlace: {
      oldSize,
      async readAt(offset, length) {
        const buf = new Uint8Array(length);
        for (let done = 0; done < length; ) {
          const { bytesRead } = await handle.read(buf, done, length - done, offset + done);
          if (bytesRead === 0) throw new DeltaflareError('SOURCE_CHANGED', `${path} shrank during the pull (at ${offset + done})`);
          done += bytesRead;
        }
        return buf;
      },
      resize: (n) => handle.truncate(n),
    },
    async publish() {
      if ((await handle.stat()).size !== size) await handle.truncate(size);
      if (fsync) await handle.sync();
      await handle.close();
    },
    close: () => handle.close().catch(() => undefined),
  };
}

/**
 * Flushes the output's written pages to disk while the pull goes on (one
 * fdatasync at a time, every FLUSH_EVERY_MS), so the fsync before the rename
 * finds little left: on this machine's ext4 an fsync of 1 GiB written in
 * one go took ~2 s at the end of the pull.
 */
function flushAsWritten(handle: FileHandle): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = handle
      .datasync()
      .catch(() => undefined) // the fsync in publish reports what matters
      .finally(() => {
        busy = false;
      });
  }, FLUSH_EVERY_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      return running;
    },
  };
}
const FLUSH_EVERY_MS = 200;

/** Writes all of `bytes` at `offset` (a positional write may write fewer). */
async function writeFully(handle: FileHandle, offset: number, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length; ) done += (await handle.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
}
