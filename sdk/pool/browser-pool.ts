// A pool of module Web Workers. The worker URL must be written literally as
// `new URL('./browser-thread-entry.js', import.meta.url)` next to `new Worker` for
// Vite (and most bundlers) to find and bundle the entry. It names the .js file
// so the tsc output in dist works as is; Vite maps it to the .ts source.
import { wrap } from 'comlink';
import { compileKernels, simdSupported } from '../../core/kernels/index.js';
import { type PoolWorker, startPool, type WorkerPool } from './pool.js';
import type { ThreadApi } from './thread-api.js';

/** Starts one worker; replace it to load the entry from elsewhere (a CDN, a prebuilt bundle). */
export type WorkerFactory = () => Worker;

const defaultFactory: WorkerFactory = () => new Worker(new URL('./browser-thread-entry.js', import.meta.url), { type: 'module' });

function browserWorker(index: number, factory: WorkerFactory): PoolWorker<ThreadApi> {
  const worker = factory();
  const failed = new Promise<never>((_, reject) => {
    // A module that fails to load or throws at top level fires 'error' and never answers.
    worker.addEventListener('error', (e) => reject(new Error(`deltaflare: pool worker ${index} failed: ${e.message || 'load error'}`)), { once: true });
    worker.addEventListener('messageerror', () => reject(new Error(`deltaflare: pool worker ${index} got a message it cannot read`)), { once: true });
  });
  failed.catch(() => {}); // observed by the pool
  let reject: (e: Error) => void = () => {};
  const stopped = new Promise<never>((_, r) => (reject = r));
  stopped.catch(() => {});
  return {
    api: wrap<ThreadApi>(worker),
    // Browsers fire no event on terminate(): reject here so running tasks end.
    terminate: () => {
      worker.terminate();
      reject(new Error(`deltaflare: pool worker ${index} was terminated`));
    },
    failed: Promise.race([failed, stopped]),
  };
}

/**
 * A pool of `size` module Web Workers (default: navigator.hardwareConcurrency,
 * 2 where unknown), kernels loaded.
 * The caller owns it: create it once, reuse it, `terminate()` it when done.
 * @example const pool = await createBrowserPool(); for await (const b of signatures(blobSource(file), { chunking, pool })) send(b)
 */
export async function createBrowserPool(
  size = globalThis.navigator?.hardwareConcurrency || 2,
  factory: WorkerFactory = defaultFactory,
): Promise<WorkerPool<ThreadApi>> {
  // Compiled once here (the page loads the kernels anyway: the plan's CRCs and the root) and posted to each worker.
  const simd = simdSupported();
  const module = compileKernels(simd);
  module.catch(() => {}); // surfaced by the inits
  return startPool(
    Array.from({ length: size }, (_, i) => browserWorker(i, factory)),
    async (api) => api.init({ module: await module, simd }),
  );
}
