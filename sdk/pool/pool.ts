// A fixed pool of workers (Web Workers or worker_threads) driven through
// comlink. Tasks queue for the next idle worker, so at most `size` run at once
// and the caller bounds memory by how many tasks it keeps queued.
import type { Remote } from 'comlink';

/** One worker of a pool: its comlink proxy and how to stop it. */
export interface PoolWorker<T> {
  api: Remote<T>;
  terminate(): void;
}

export class WorkerPool<T> {
  private readonly idle: PoolWorker<T>[];
  private readonly waiting: ((worker: PoolWorker<T>) => void)[] = [];

  constructor(private readonly workers: PoolWorker<T>[]) {
    this.idle = [...workers];
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /** Runs `task` on the next idle worker. */
  async run<R>(task: (api: Remote<T>) => Promise<R>): Promise<R> {
    const worker = this.idle.pop() ?? (await new Promise<PoolWorker<T>>((resolve) => this.waiting.push(resolve)));
    try {
      return await task(worker.api);
    } finally {
      const next = this.waiting.shift();
      if (next) next(worker);
      else this.idle.push(worker);
    }
  }

  /** Runs `task` on every worker at once (e.g. to initialise them). */
  all<R>(task: (api: Remote<T>) => Promise<R>): Promise<R[]> {
    return Promise.all(this.workers.map((w) => task(w.api)));
  }

  terminate(): void {
    for (const w of this.workers) w.terminate();
  }
}
