import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { wrap } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { compileKernels, simdSupported } from '../../core/kernels/index.js';
import { startNodeThread } from './node-thread.js';
import { type PoolWorker, startPool, type WorkerPool } from './pool.js';
import type { ThreadApi } from './thread-api.js';

export { startNodeThread } from './node-thread.js';

/**
 * A worker_thread as a pool member: unref'd while idle (an idle pool must not
 * keep the process alive), ref'd while busy, failed on 'error' or 'exit'.
 */
export function poolWorker(worker: Worker, index: number): PoolWorker<ThreadApi> {
  worker.unref();
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', (cause) => reject(new Error(`deltaflare: pool worker ${index} failed: ${cause?.message ?? cause}`, { cause })));
    worker.once('exit', (code) => reject(new Error(`deltaflare: pool worker ${index} exited (code ${code})`)));
  });
  failed.catch(() => {}); // observed by the pool; this only keeps Node from reporting it as unhandled
  let tasks = 0;
  return {
    api: wrap<ThreadApi>(nodeEndpoint(worker)),
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
 * @example const pool = await createNodePool(2); try { await pool.run((api) => api.fixedBlocks(bytes, 4096)) } finally { pool.terminate() }
 */
export async function createNodePool(size = availableParallelism()): Promise<WorkerPool<ThreadApi>> {
  return nodePool(Array.from({ length: size }, () => startNodeThread()));
}

/**
 * A pool over threads already started with startNodeThread() (the CLI starts
 * them before loading the rest of the client). The kernels are compiled once
 * here and the compiled module is posted to every worker, which instantiates
 * it: workers import no base64 and compile nothing, and code V8 tiers up in
 * one isolate is shared by all (one NativeModule per process).
 * @example const pool = await nodePool([startNodeThread(), startNodeThread()])
 */
export async function nodePool(threads: Worker[]): Promise<WorkerPool<ThreadApi>> {
  const simd = simdSupported();
  const module = compileKernels(simd);
  module.catch(() => {}); // surfaced by the inits
  return startPool(
    threads.map((t, i) => poolWorker(t, i)),
    async (api) => api.init({ module: await module, simd }),
  );
}
