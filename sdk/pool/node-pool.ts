import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { WorkerPool } from './pool.js';
import type { WorkerApi } from './worker-api.js';

// From TypeScript sources (tests, tsx) the worker is a .ts file that Node can
// only load through tsx; from dist it is plain .js.
const fromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(fromSource ? './node-worker.ts' : './node-worker.js', import.meta.url);

/** A pool of `size` worker_threads (default: one per core), kernels loaded. */
export async function createNodePool(size = availableParallelism()): Promise<WorkerPool<WorkerApi>> {
  const pool = new WorkerPool<WorkerApi>(
    Array.from({ length: size }, () => {
      const worker = new Worker(WORKER_URL, fromSource ? { execArgv: ['--import', 'tsx'] } : {});
      worker.unref(); // an idle pool must not keep the process alive
      return { api: wrap<WorkerApi>(nodeEndpoint(worker)), terminate: () => void worker.terminate() };
    }),
  );
  await pool.all((api) => api.init());
  return pool;
}
