// `deltaflare pull URL FILE`: the SDK's pull of a key into a file, with the
// CLI's flags, progress bar and JSON output.
import type { Worker } from 'node:worker_threads';
import { pull } from '../sdk/node/index.js';
import { type EarlyPool, poolFor, withEarlyPool } from './early-pool.js';
import { ProgressBar } from './progress-bar.js';
import { integer, mb, parse, progressFlag, UsageError } from './usage.js';

/**
 * `deltaflare pull URL FILE [--key K] [--in-place] [--no-fsync] [--workers N] [--token T] [--timeout S] [--json]`
 * `threads`: pool threads main.ts started before loading this; owned (terminated) here.
 */
export function pullCommand(args: string[], threads?: Worker[]): Promise<void> {
  return withEarlyPool(threads, (early) => pullWith(args, early));
}

async function pullWith(args: string[], early?: EarlyPool): Promise<void> {
  const { values, positionals } = parse(args, {
    key: { type: 'string' },
    workers: { type: 'string' },
    token: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean', default: false },
    'in-place': { type: 'boolean', default: false },
    'no-fsync': { type: 'boolean', default: false },
    progress: { type: 'boolean' },
    'no-progress': { type: 'boolean' },
  });
  if (positionals.length !== 2) throw new UsageError('give URL and FILE');
  const [endpoint, file] = positionals;
  if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`URL must start with http:// or https://, got '${endpoint}'`);
  const workers = values.workers === undefined ? undefined : integer('workers', values.workers, 0);
  const pool = poolFor(early, workers);
  const bar = ProgressBar.wanted(progressFlag(values), values.json === true) ? new ProgressBar() : undefined;
  const result = await pull(file, {
    endpoint,
    key: typeof values.key === 'string' ? values.key : file.split(/[\\/]/).pop()!,
    workers,
    pool,
    token: typeof values.token === 'string' ? values.token : process.env.DELTAFLARE_TOKEN,
    timeoutMs: values.timeout === undefined ? undefined : 1000 * integer('timeout', values.timeout, 0),
    inPlace: values['in-place'] === true,
    fsync: values['no-fsync'] !== true,
    onProgress: bar && ((p) => bar.pull(p)),
  }).finally(() => bar?.clear());
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const found = result.copiedBytes + result.resumedBytes + result.blockBytes;
  console.log(
    `pulled ${result.key} version ${result.version} -> ${file}\n` +
      `  size ${mb(result.size)}, found locally ${mb(found)}, fetched ${mb(result.fetchedBytes)} in ${result.requests} requests, ` +
      `received ${mb(result.bytesReceived)}, ${result.seconds.toFixed(2)} s`,
  );
}
