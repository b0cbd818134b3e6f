import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { type PoolWorker, startPool, type WorkerPool } from './pool.js';
import type { WorkerApi } from './worker-api.js';

// From TypeScript sources (tests, tsx) the worker is a .ts file that Node can
// only load through tsx; from dist it is plain .js. Node 20 does not apply
// hooks from a worker's `execArgv: ['--import', 'tsx']` to the worker's entry
// (ERR_UNKNOWN_FILE_EXTENSION), so a small eval'd script registers tsx's
// hooks first and then imports the entry.
const fromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(fromSource ? './node-worker.ts' : './node-worker.js', import.meta.url);
// tsx/esm/api resolves (require conditions) to index.cjs, whose register() looks
// for a wrong relative path in tsx 4.23; its ESM twin index.mjs works.
const tsxEntry = () => {
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs'));
  return `import(${JSON.stringify(api.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
};

/** Starts the pool's worker entry (node-worker.ts / .js) as a worker_thread. */
export function startNodeWorker(): Worker {
  return fromSource ? new Worker(tsxEntry(), { eval: true }) : new Worker(WORKER_URL);
}

/**
 * A worker_thread as a pool member: unref'd while idle (an idle pool must not
 * keep the process alive), ref'd while busy, failed on 'error' or 'exit'.
 */
export function poolWorker(worker: Worker, index: number): PoolWorker<WorkerApi> {
  worker.unref();
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', (cause) => reject(new Error(`deltaflare: pool worker ${index} failed: ${cause?.message ?? cause}`, { cause })));
    worker.once('exit', (code) => reject(new Error(`deltaflare: pool worker ${index} exited (code ${code})`)));
  });
  failed.catch(() => {}); // observed by the pool; this only keeps Node from reporting it as unhandled
  let tasks = 0;
  return {
    api: wrap<WorkerApi>(nodeEndpoint(worker)),
    terminate: () => void worker.terminate(),
    failed,
    // A task awaited by nothing but an unref'd worker would let the process exit mid-task.
    busy: (on) => {
      tasks += on ? 1 : -1;
      if (tasks === 0) worker.unref();
      else worker.ref();
    },
  };
}

/**
 * A pool of `size` worker_threads (default: one per core), kernels loaded.
 * The caller owns it: create it once, reuse it across syncs, `terminate()` it at the end.
 * @example const pool = await createNodePool(2); try { ... } finally { pool.terminate() }
 */
export async function createNodePool(size = availableParallelism()): Promise<WorkerPool<WorkerApi>> {
  return startPool(Array.from({ length: size }, (_, i) => poolWorker(startNodeWorker(), i)), (api) => api.init());
}
