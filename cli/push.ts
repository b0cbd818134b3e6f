// `deltaflare push FILE URL`: the SDK's push of a file, resumable by default
// (records under XDG_STATE_HOME), with the CLI's flags, progress bar and JSON output.
import { DeltaflareError } from '../core/base/errors.js';
import type { Worker } from 'node:worker_threads';
import { defaultResumeDir, fileResumeStore, push } from '../sdk/node/index.js';
import { ProgressBar } from './progress-bar.js';
import { type EarlyPool, poolFor, withEarlyPool } from './early-pool.js';
import { chunkingOption, integer, mb, parse, progressFlag, UsageError } from './usage.js';

/**
 * `deltaflare push FILE URL [--key K] [--basis K] [--chunking cdc|fixed] [--block N] [--avg N] [--workers N] [--in-place] [--token T] [--timeout S] [--resume-dir D | --no-resume] [--meta NAME=VALUE]... [--json]`
 * `threads`: pool threads main.ts started before loading this; owned (terminated) here.
 */
export function pushCommand(args: string[], threads?: Worker[]): Promise<void> {
  return withEarlyPool(threads, (early) => pushWith(args, early));
}

async function pushWith(args: string[], early?: EarlyPool): Promise<void> {
  const { values, positionals } = parse(args, {
    key: { type: 'string' },
    basis: { type: 'string' },
    chunking: { type: 'string', default: 'cdc' },
    block: { type: 'string' },
    avg: { type: 'string' },
    workers: { type: 'string' },
    'in-place': { type: 'boolean', default: false },
    token: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean', default: false },
    'resume-dir': { type: 'string' },
    'no-resume': { type: 'boolean', default: false },
    progress: { type: 'boolean' },
    'no-progress': { type: 'boolean' },
    meta: { type: 'string', multiple: true },
  });
  if (positionals.length !== 2) throw new UsageError('give FILE and URL');
  const [file, endpoint] = positionals;
  if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`URL must start with http:// or https://, got '${endpoint}'`);
  const key = typeof values.key === 'string' ? values.key : file.split(/[\\/]/).pop()!;
  const workers = values.workers === undefined ? undefined : integer('workers', values.workers, 0);
  const options = {
    endpoint,
    key,
    basis: typeof values.basis === 'string' ? values.basis : undefined,
    chunking: chunkingOption(values),
    workers,
    pool: poolFor(early, workers),
    inPlace: values['in-place'] === true,
    token: typeof values.token === 'string' ? values.token : process.env.DELTAFLARE_TOKEN,
    timeoutMs: values.timeout === undefined ? undefined : 1000 * integer('timeout', values.timeout, 0),
    // Two parts in flight: a cut costs a resume at most two parts (16 MiB), and on loopback a 256 MiB push
    // took 1.65-1.90 s with two against 1.88-2.63 s with four (the endpoint lands one part at a time).
    partConcurrency: 2,
    // A push cut short (killed, connection lost) and run again sends only what the endpoint lacks.
    resume: values['no-resume'] ? undefined : fileResumeStore(typeof values['resume-dir'] === 'string' ? values['resume-dir'] : defaultResumeDir()),
    metadata: metadataOption(values.meta as string[] | undefined),
  };
  const bar = ProgressBar.wanted(progressFlag(values), values.json === true) ? new ProgressBar() : undefined;
  const result = await push(file, { ...options, onProgress: bar && ((p) => bar.push(p)) }).catch((e: unknown) => {
    bar?.clear();
    if (e instanceof DeltaflareError && e.code === 'UNAUTHORIZED') {
      e.message += options.token
        ? '\n(the token given by --token or DELTAFLARE_TOKEN was refused)'
        : '\n(the endpoint needs a token: give --token T or set DELTAFLARE_TOKEN)';
    }
    throw e;
  });
  bar?.clear();
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const pct = result.size ? ((100 * result.matchedBytes) / result.size).toFixed(1) : '100.0';
  console.log(
    `pushed ${file} -> ${endpoint} key ${result.key} version ${result.version}\n` +
      `  size ${mb(result.size)}, matched ${pct}%, literal ${mb(result.literalBytes)}, ` +
      `sent ${mb(result.bytesSent)}, received ${mb(result.bytesReceived)}, ${result.seconds.toFixed(2)} s`,
  );
}

/** The metadata from --meta NAME=VALUE (repeated), or undefined; the SDK checks names and sizes. */
export function metadataOption(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--meta takes NAME=VALUE, got '${p}'`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}
