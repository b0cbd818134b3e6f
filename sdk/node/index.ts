// deltaflare for Node: sync() with a file path and a worker_threads pool made for you.
import { availableParallelism } from 'node:os';
import { createNodePool } from '../pool/node-pool.js';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { SYNC_OPTIONS, sync, type SyncOptions, type SyncResult } from '../push/push.js';
import { fileSource } from './file-source.js';

export { sync, type SyncOptions, type SyncProgress, type SyncResult } from '../push/push.js';
export { fileSource } from './file-source.js';
export { defaultResumeDir, fileResumeStore } from './file-resume-store.js';
export { discard } from '../push/resume.js';
export { createNodePool } from '../pool/node-pool.js';
export { DeltaflareError } from '../../core/base/errors.js';
export { signUploadToken } from '../../core/protocol/upload-token.js';
export { checkMetadata, METADATA_LIMITS, type Metadata } from '../../core/protocol/metadata.js';

/** Options of `push`: those of `sync` with the pool made from `workers`. */
export type PushOptions = Omit<SyncOptions, 'pool'> & {
  /** A pool of your own (e.g. shared by several pushes); `workers` is ignored then. */
  pool?: SyncOptions['pool'];
  /** Worker threads hashing the file. Default: one per core (os.availableParallelism()). */
  workers?: number;
};
const PUSH_OPTIONS: OptionKeys<PushOptions> = { ...SYNC_OPTIONS, workers: true };

/**
 * Pushes a file on disk: opens it, runs the signature pass on `workers`
 * threads (default: one per core) and syncs.
 * @example await push('./disk.img', { endpoint: 'http://127.0.0.1:19876', key: 'disk.img' })
 */
export async function push(path: string, options: PushOptions): Promise<SyncResult> {
  checkOptions('push', options, PUSH_OPTIONS);
  const { workers, ...rest } = options;
  const source = await fileSource(path);
  // Not awaited here: the workers start (~100-300 ms: threads, kernels) while sync() opens the session.
  const pool = options.pool ?? createNodePool(workers ?? availableParallelism());
  if (pool instanceof Promise) pool.catch(() => undefined); // a failure surfaces where sync() awaits it
  try {
    // Node's fetch streams request bodies over HTTP/1.1: part bodies go uncopied.
    return await sync(source, { streamBodies: true, ...rest, pool });
  } finally {
    if (!options.pool)
      await Promise.resolve(pool).then(
        (p) => p.terminate(),
        () => undefined,
      );
    await source.close?.();
  }
}
export { pull, type PullFileOptions } from './pull.js';
export { PULL_SUFFIX, type PullProgress, type PullResult } from '../pull/options.js';
