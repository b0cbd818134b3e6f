// deltaflare for browsers: sync() of a File or Blob, hashed in a pool of
// module Web Workers (one per core), read with Blob.slice in bounded memory
// (2 segments of 8 MiB per worker, plus parts in flight), resumable through
// IndexedDB. Needs no SharedArrayBuffer and no cross-origin isolation.
import { BROWSER_PARTS_IN_FLIGHT } from '../../core/base/limits.js';
import { createBrowserPool } from '../pool/browser-pool.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ThreadApi } from '../pool/thread-api.js';
import type { ResumeRecord, ResumeStore } from '../push/resume.js';
import { blobSource } from '../source.js';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { SYNC_OPTIONS, sync as syncSource, type SyncOptions, type SyncResult } from '../push/push.js';
import { idbResumeStore } from './idb-store.js';
import { type BrowserPullOptions, pullInto, pullIntoHandle } from './pull.js';

export type { SyncLayout, SyncOptions, SyncPhase, SyncProgress, SyncResult } from '../push/push.js';
export type { RetryOptions } from '../http.js';
export {
  type Fingerprint,
  fingerprint,
  MemoryResumeStore,
  type ResumeRecord,
  type ResumeStore,
  resumeId,
  type StoredSession,
  type StoredSignature,
} from '../push/resume.js';
export { blobSource } from '../source.js';
export { createBrowserPool, type WorkerFactory } from '../pool/browser-pool.js';
export { DeltaflareError } from '../../core/base/errors.js';
export { checkMetadata, METADATA_LIMITS, type Metadata } from '../../core/protocol/metadata.js';
export { idbResumeStore } from './idb-store.js';

/** Options of the browser `sync`: those of the core one, with the pool and the resume store made for you. */
export type BrowserSyncOptions = Omit<SyncOptions, 'pool' | 'resume'> & {
  /** A pool to use (owned by the caller); default: a shared one of `workers` workers. */
  pool?: WorkerPool<ThreadApi>;
  /** Workers of the shared pool (default navigator.hardwareConcurrency, 2 where unknown). */
  workers?: number;
  /** Where resume records live (default IndexedDB); false: not resumable. */
  resume?: ResumeStore | false;
};

/** The names sync() accepts (checked at each call; the Uppy plugin checks its options against them at `use`). */
export const BROWSER_SYNC_OPTIONS: OptionKeys<BrowserSyncOptions> = { ...SYNC_OPTIONS, workers: true };

const pools = new Map<number, Promise<WorkerPool<ThreadApi>>>();

/** The shared pool of `size` workers, started on first use and kept for the page's life (startup ~50 ms per worker). */
export function sharedPool(size = navigator.hardwareConcurrency || 2): Promise<WorkerPool<ThreadApi>> {
  let pool = pools.get(size);
  if (!pool) {
    pool = createBrowserPool(size);
    pools.set(size, pool);
    pool.catch(() => pools.delete(size));
  }
  return pool;
}

let defaultStore: ResumeStore | undefined;

/** The page's IndexedDB resume store, opened once. */
function defaultResumeStore(): ResumeStore {
  if (!defaultStore) defaultStore = idbResumeStore();
  return defaultStore;
}

export { BROWSER_PARTS_IN_FLIGHT };

/**
 * Pushes a File (or Blob) to `options.key`: a push cut short (network lost,
 * tab closed, server restarted) resumes on the next call with the same file.
 * Given a FileSystemFileHandle (File System Access API: a picker, a dropped
 * item's getAsFileSystemHandle(), OPFS), the handle is kept with the resume
 * record, so after a reload `reopenFile(record)` gets the file back with one
 * permission prompt instead of asking the user to find it.
 * @example
 * input.onchange = () => push(input.files[0], { endpoint: location.origin, key: input.files[0].name, onProgress: show });
 */
export async function push(file: Blob | FileSystemFileHandle, options: BrowserSyncOptions): Promise<SyncResult> {
  checkOptions('push', options, BROWSER_SYNC_OPTIONS);
  const { workers, ...rest } = options;
  const handle = file instanceof Blob ? undefined : file;
  const blob = handle ? await handle.getFile() : (file as Blob);
  const pool = options.pool ?? (await sharedPool(workers));
  const resume = options.resume === false ? undefined : (options.resume ?? defaultResumeStore());
  return syncSource(blobSource(blob), { partConcurrency: BROWSER_PARTS_IN_FLIGHT, ...rest, pool, resume, fileHandle: handle });
}

/** The same function as `push`, under the name earlier releases gave it. */
export const sync = push;

/** The permission calls of a FileSystemHandle (Chromium has them; TypeScript's DOM library does not yet). */
type PermissionedHandle = FileSystemFileHandle & {
  queryPermission?(d: { mode: 'read' }): Promise<PermissionState>;
  requestPermission?(d: { mode: 'read' }): Promise<PermissionState>;
};

/**
 * The file of an unfinished push whose record kept its handle, asking the
 * user's permission again if the browser needs it (call it from a click: a
 * prompt needs a user gesture); null when there is no handle, no permission,
 * or no file any more.
 * @example const file = await reopenFile(record); if (file) await sync(file, { endpoint, key: record.key })
 */
export async function reopenFile(record: ResumeRecord): Promise<File | null> {
  const handle = record.handle as PermissionedHandle | undefined;
  if (!handle || typeof handle.getFile !== 'function') return null;
  try {
    if ((await handle.queryPermission?.({ mode: 'read' })) !== 'granted' && handle.requestPermission) {
      if ((await handle.requestPermission({ mode: 'read' })) !== 'granted') return null;
    }
    return await handle.getFile();
  } catch {
    return null;
  }
}

export type { BrowserPullOptions } from './pull.js';
export { PULL_SUFFIX } from '../pull/options.js';
export { discard } from '../push/resume.js';
export type { PullProgress, PullResult } from '../pull/options.js';

/**
 * Updates the page's own copy of a file, `name` in the origin private file
 * system, to the key's version, fetching only the chunks it lacks; resumable
 * after a reload. Read it with `(await navigator.storage.getDirectory()).getFileHandle(name)`.
 * Given a FileSystemFileHandle the user picked (showSaveFilePicker, with
 * write permission) instead, the file is updated through its writable
 * stream: replaced whole at the end, not resumable.
 * @example await pull('model.bin', { endpoint: location.origin, key: 'model.bin', onProgress: show })
 */
export async function pull(name: string | FileSystemFileHandle, options: BrowserPullOptions): Promise<import('../pull/options.js').PullResult> {
  const o = { ...options, pool: options.pool ?? (await sharedPool()) };
  return typeof name === 'string' ? pullInto(name, o) : pullIntoHandle(name, o);
}
