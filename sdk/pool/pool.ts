// A fixed pool of workers (Web Workers or worker_threads) driven through
// comlink. Tasks queue for the next idle worker, so at most `size` run at once
// and the caller bounds memory by how many tasks it keeps queued.
//
// comlink has no notion of a dead worker: a call to a worker that crashed
// (out of memory, process.exit, terminate()) would wait forever. Each worker
// therefore comes with a `failed` promise from its runtime's error/exit
// events; a task racing it rejects instead, and the worker leaves the pool.
import type { Remote } from 'comlink';

/** One worker of a pool: its comlink proxy and how to stop it. */
export interface PoolWorker<T> {
  api: Remote<T>;
  terminate(): void;
  /** Rejects when the worker stops on its own (crash, exit) or is terminated; never resolves. */
  failed?: Promise<never>;
  /** Called with true when a task starts on the worker, false when it ends (Node: ref/unref the thread). */
  busy?(on: boolean): void;
}

interface Waiter<T> {
  resolve(worker: PoolWorker<T>): void;
  reject(reason: unknown): void;
}

/** Options of one task. */
export interface RunOptions {
  /** Run before the tasks queued without it (e.g. work that frees memory or unblocks the caller). */
  urgent?: boolean;
}

/**
 * A fixed set of workers; `run` hands a task to the next idle one.
 * @example const pool = await createNodePool(2); try { await pool.run((api) => api.fixedBlocks(bytes, 4096)) } finally { pool.terminate() }
 */
export class WorkerPool<T> {
  private readonly idle: PoolWorker<T>[];
  private readonly live: Set<PoolWorker<T>>;
  // Tasks waiting for a worker, FIFO within each class; urgent ones are served first.
  private readonly urgent: Waiter<T>[] = [];
  private readonly waiting: Waiter<T>[] = [];
  private lastFailure: unknown;

  constructor(private readonly workers: PoolWorker<T>[]) {
    this.idle = [...workers];
    this.live = new Set(workers);
    for (const w of workers) {
      w.failed?.catch((cause) => this.drop(w, cause));
    }
  }

  /** Number of workers (including any that failed). */
  get size(): number {
    return this.workers.length;
  }

  /** Runs `task` on the next idle worker; rejects if that worker dies meanwhile or none is left. */
  async run<R>(task: (api: Remote<T>) => Promise<R>, options: RunOptions = {}): Promise<R> {
    const worker = this.idle.pop() ?? (await this.wait(options.urgent ?? false));
    worker.busy?.(true);
    try {
      return await (worker.failed ? Promise.race([task(worker.api), worker.failed]) : task(worker.api));
    } finally {
      worker.busy?.(false);
      if (this.live.has(worker)) this.release(worker);
    }
  }

  /** Runs `task` on every worker at once (e.g. to initialise them). */
  all<R>(task: (api: Remote<T>) => Promise<R>): Promise<R[]> {
    return Promise.all(
      this.workers.map(async (w) => {
        // Busy like a run: an answer awaited from an unref'd worker would let Node exit before it comes (exit code 13).
        w.busy?.(true);
        try {
          return await (w.failed ? Promise.race([task(w.api), w.failed]) : task(w.api));
        } finally {
          w.busy?.(false);
        }
      }),
    );
  }

  /** Stops every worker; tasks still running or queued reject. */
  terminate(): void {
    for (const w of this.workers) w.terminate();
    this.fail(new Error('deltaflare: the worker pool was terminated'));
  }

  private wait(urgent: boolean): Promise<PoolWorker<T>> {
    if (this.live.size === 0) return Promise.reject(this.lastFailure);
    return new Promise((resolve, reject) => (urgent ? this.urgent : this.waiting).push({ resolve, reject }));
  }

  private release(worker: PoolWorker<T>): void {
    const next = this.urgent.shift() ?? this.waiting.shift();
    if (next) next.resolve(worker);
    else this.idle.push(worker);
  }

  private drop(worker: PoolWorker<T>, cause: unknown): void {
    if (!this.live.delete(worker)) return;
    this.lastFailure = cause;
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    if (this.live.size === 0) this.fail(cause);
  }

  private fail(cause: unknown): void {
    this.live.clear();
    this.idle.length = 0;
    this.lastFailure = cause;
    for (const w of [...this.urgent.splice(0), ...this.waiting.splice(0)]) w.reject(this.lastFailure);
  }
}

/**
 * A pool over `workers` once `init` has resolved on every one of them; if any
 * fails to start, all are stopped and the error is thrown.
 * @example const pool = await startPool(workers, (api) => api.init(compiled))
 */
export async function startPool<T>(workers: PoolWorker<T>[], init: (api: Remote<T>) => Promise<unknown>): Promise<WorkerPool<T>> {
  const pool = new WorkerPool<T>(workers);
  try {
    await pool.all(init);
  } catch (e) {
    pool.terminate();
    throw e;
  }
  return pool;
}
