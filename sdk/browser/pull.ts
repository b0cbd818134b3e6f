// Pulling into the origin private file system (OPFS): the page's own copy of
// a file (a dataset, a model, a SQLite database) updated to the key's version
// with only the chunks it lacks. The new version is written to
// `<name>.deltaflare-pull` by a worker (opfs-worker.ts), then moved over
// `<name>` once every chunk has been checked; a reload in between leaves it
// for the next pull to reuse.
import { type Remote, wrap } from 'comlink';
import { DeltaflareError } from '../../core/base/errors.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ThreadApi } from '../pool/thread-api.js';
import { pull as pullCore } from '../pull/pull.js';
import { PULL_SUFFIX, type PullOptions, type PullOutput, type PullResult } from '../pull/options.js';
import { blobSource } from '../source.js';
import type { OpfsWriter } from './opfs-worker.js';

/** Options of the browser `pull`: the core's, with the pool made for you. */
export type BrowserPullOptions = Omit<PullOptions, 'pool'> & {
  /** A pool to use (owned by the caller); default: the page's shared one. */
  pool?: WorkerPool<ThreadApi>;
};

/**
 * Updates the OPFS file `name` (created if missing) to the key's version.
 * @example await pull('model.bin', { endpoint: location.origin, key: 'model.bin' })
 */
export async function pullInto(name: string, options: BrowserPullOptions & { pool: PullOptions['pool'] }): Promise<PullResult> {
  const root = await navigator.storage.getDirectory();
  const localHandle = await root.getFileHandle(name).catch(() => null);
  const before = localHandle ? await localHandle.getFile() : null;
  return changedMeanwhile(
    name,
    before,
    () => currentFile(root, name),
    () => pullCore(before ? blobSource(before) : null, (size) => openOutput(root, name, size, before), options),
  );
}

/** Whether `now` is the file `before` was: both absent, or the same size and modification time. */
function unchanged(before: File | null, now: File | null): boolean {
  return before === null ? now === null : now !== null && now.size === before.size && now.lastModified === before.lastModified;
}

/** The OPFS file `name` as it is now, or null. */
async function currentFile(root: FileSystemDirectoryHandle, name: string): Promise<File | null> {
  return (await root.getFileHandle(name).catch(() => null))?.getFile() ?? null;
}

/**
 * Runs `pulling`; if it fails and the local copy changed meanwhile, the
 * failure is SOURCE_CHANGED: the browser refuses to read a File whose bytes
 * changed after it was taken (NotReadableError), which is how an edit during
 * the scan or the copies shows.
 */
async function changedMeanwhile(name: string, before: File | null, now: () => Promise<File | null>, pulling: () => Promise<PullResult>): Promise<PullResult> {
  try {
    return await pulling();
  } catch (e) {
    if (e instanceof DeltaflareError && e.code === 'SOURCE_CHANGED') throw e;
    if (unchanged(before, await now().catch(() => null))) throw e;
    throw new DeltaflareError('SOURCE_CHANGED', `${name} changed during the pull: it was not replaced; pull again`, { cause: e });
  }
}

async function openOutput(root: FileSystemDirectoryHandle, name: string, size: number, before: File | null): Promise<PullOutput> {
  const partialName = `${name}${PULL_SUFFIX}`;
  const left = await root.getFileHandle(partialName).catch(() => null);
  const leftFile = left ? await left.getFile() : null;
  // What an interrupted pull wrote, read (to find what landed) before the writer opens the file: it locks it.
  const resumed = leftFile && leftFile.size === size ? blobSource(leftFile) : null;
  const worker = new Worker(new URL('./opfs-worker.js', import.meta.url), { type: 'module' });
  const writer: Remote<OpfsWriter> = wrap<OpfsWriter>(worker);
  let opened: Promise<void> | undefined;
  const end = async () => {
    if (opened) await opened.then(() => writer.close()).catch(() => undefined);
    worker.terminate();
  };
  return {
    resumed,
    zeroed: leftFile === null, // created and sized by the writer: reads as zeros
    async writeAt(offset, bytes) {
      opened ??= writer.open(partialName, size);
      await opened;
      await writer.write(offset, bytes);
    },
    async publish() {
      opened ??= writer.open(partialName, size);
      await opened;
      await writer.close();
      opened = undefined;
      worker.terminate();
      // Changed meanwhile (another tab wrote it): not replaced.
      if (!unchanged(before, await currentFile(root, name)))
        throw new DeltaflareError('SOURCE_CHANGED', `${name} changed during the pull: it was not replaced; the new version waits in ${partialName}`);
      const partial = await root.getFileHandle(partialName);
      await root.removeEntry(name).catch(() => undefined);
      await (partial as FileSystemFileHandle & { move(name: string): Promise<void> }).move(name);
    },
    close: end,
  };
}

/** The writable stream of a picked file (File System Access API), as far as used here. */
interface Writable {
  write(op: { type: 'write'; position: number; data: Uint8Array }): Promise<void>;
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Updates a file the user picked (a FileSystemFileHandle with write
 * permission) to the key's version. The new version is written through the
 * handle's writable stream, which the browser swaps in for the file only at
 * close: the file is whole, old or new, but an interrupted pull starts over.
 */
export async function pullIntoHandle(handle: FileSystemFileHandle, options: BrowserPullOptions & { pool: PullOptions['pool'] }): Promise<PullResult> {
  const before = await handle.getFile();
  const open = async (size: number): Promise<PullOutput> => {
    const w = (await (handle as FileSystemFileHandle & { createWritable(o: { keepExistingData: boolean }): Promise<Writable> }).createWritable({
      keepExistingData: false,
    })) as Writable;
    await w.truncate(size);
    return {
      resumed: null,
      zeroed: true, // not keeping the file's data, then sized: reads as zeros
      writeAt: (position, data) => w.write({ type: 'write', position, data }),
      async publish() {
        if (!unchanged(before, await handle.getFile())) {
          await w.abort();
          throw new DeltaflareError('SOURCE_CHANGED', `${handle.name} changed during the pull: it was not replaced`);
        }
        await w.close();
      },
      close: () => w.abort().catch(() => undefined),
    };
  };
  return changedMeanwhile(
    handle.name,
    before,
    () => handle.getFile(),
    () => pullCore(before.size > 0 ? blobSource(before) : null, open, options),
  );
}
