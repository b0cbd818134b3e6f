// The pool over the threads main.ts starts before loading `push` or `pull`
// (each thread boots while the client loads): initialised at once, handed
// to the command when --workers agrees with its size, terminated on any way out.
import type { Worker } from 'node:worker_threads';
import { nodePool } from '../sdk/pool/node-pool.js';

export interface EarlyPool {
  pool: ReturnType<typeof nodePool>;
  size: number;
}

/** Runs `command` with the pool over `threads` (if main.ts started any), terminating it afterwards. */
export async function withEarlyPool(threads: Worker[] | undefined, command: (early?: EarlyPool) => Promise<void>): Promise<void> {
  const pool = threads && nodePool(threads);
  pool?.catch(() => {}); // surfaces where the command awaits it
  try {
    await command(pool && { pool, size: threads.length });
  } finally {
    await pool?.then(
      (p) => p.terminate(),
      () => {},
    );
  }
}

/** The early pool if it has the `workers` asked for (or none was asked for: one per core); else the command makes its own. */
export const poolFor = (early: EarlyPool | undefined, workers: number | undefined) =>
  early && (workers === undefined || workers === early.size) ? early.pool : undefined;
