import type { Worker } from 'node:worker_threads';
import { pull } from '../sdk/node/index.js';
import { nodePool } from '../sdk/pool/node-pool.js';
import { integer, mb, parse, UsageError } from './usage.js';

/**
 * `deltaflare pull URL FILE [--key K] [--in-place] [--workers N] [--token T] [--timeout S] [--json]`
 * `threads`: pool threads main.ts started before loading this; owned (terminated) here.
 */
export async function pullCommand(args: string[], threads?: Worker[]): Promise<void> {
  const pool = threads && nodePool(threads);
  pool?.catch(() => {}); // surfaces where the pull awaits it
  try {
    await pullWith(args, pool && { pool, size: threads.length });
  } finally {
    await pool?.then(
      (p) => p.terminate(),
      () => {},
    );
  }
}

async function pullWith(args: string[], early?: { pool: ReturnType<typeof nodePool>; size: number }): Promise<void> {
  const { values, positionals } = parse(args, {
    key: { type: 'string' },
    workers: { type: 'string' },
    token: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean', default: false },
    'in-place': { type: 'boolean', default: false },
  });
  if (positionals.length !== 2) throw new UsageError('give URL and FILE');
  const [endpoint, file] = positionals;
  if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`URL must start with http:// or https://, got '${endpoint}'`);
  const workers = values.workers === undefined ? undefined : integer('workers', values.workers, 0);
  // The early threads number --workers' value or one per core; if --workers said otherwise, pull makes its own.
  const pool = early && (workers === undefined || workers === early.size) ? early.pool : undefined;
  const result = await pull(file, {
    endpoint,
    key: typeof values.key === 'string' ? values.key : file.split(/[\\/]/).pop()!,
    workers,
    pool,
    token: typeof values.token === 'string' ? values.token : process.env.DELTAFLARE_TOKEN,
    timeoutMs: values.timeout === undefined ? undefined : 1000 * integer('timeout', values.timeout, 0),
    inPlace: values['in-place'] === true,
  });
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const found = result.copiedBytes + result.resumedBytes;
  console.log(
    `pulled ${result.key} version ${result.version} -> ${file}\n` +
      `  size ${mb(result.size)}, found locally ${mb(found)}, fetched ${mb(result.fetchedBytes)} in ${result.requests} requests, ` +
      `received ${mb(result.bytesReceived)}, ${result.seconds.toFixed(2)} s`,
  );
}
