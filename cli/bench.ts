// `deltaflare bench`: one local sync of a file and an edited copy, each
// phase timed and the literal bytes counted (no network, no server process).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../worker/http/app.js';
import { FsStore } from '../worker/store/fs/store.js';
import { init } from '../core/kernels/index.js';
import { createNodePool, push } from '../sdk/node/index.js';
import type { SyncPhase } from '../sdk/push/push.js';
import { chunkingOption, integer, parse, UsageError } from './usage.js';

/**
 * `deltaflare bench OLD NEW [--chunking cdc|fixed] [--block N] [--avg N] [--workers N] [--in-place] [--json]`:
 * the whole pipeline in one process with no network (the endpoint's fetch is
 * called directly, over an fs store in a temp folder), as the rsync_test and
 * dsync_test tools of ParaSync's artifact (FAST '26) do: how a user compares settings on
 * their own data. OLD is pushed first (not timed), then NEW is timed by phase.
 */
export async function benchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    chunking: { type: 'string', default: 'cdc' },
    block: { type: 'string' },
    avg: { type: 'string' },
    workers: { type: 'string' },
    'in-place': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 2) throw new UsageError('give OLD and NEW');
  const [oldFile, newFile] = positionals;
  const chunking = chunkingOption(values);
  const kernels = await init();
  const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
  const pool = await createNodePool(values.workers === undefined ? undefined : integer('workers', values.workers, 1));
  try {
    const app = createApp({ store: await FsStore.open(dir), kernels });
    // No network: requests go straight to the app's fetch.
    const fetchApp = ((input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init))) as typeof fetch;
    const common = { endpoint: 'http://deltaflare.local', key: 'bench', pool, chunking, fetch: fetchApp };
    await push(oldFile, common);
    const marks: Partial<Record<SyncPhase, number>> = {};
    const t0 = performance.now();
    const result = await push(newFile, {
      ...common,
      inPlace: values['in-place'] === true,
      onProgress: (p) => (marks[p.phase] ??= performance.now()),
    });
    const at = (phase: SyncPhase) => ((marks[phase] ?? performance.now()) - t0) / 1000;
    const phases = {
      // signatures are matched as they are produced, so one phase holds both
      signaturesAndMatch: at('uploading'),
      planAndParts: at('committing') - at('uploading'),
      rebuildAndCommit: at('done') - at('committing'),
    };
    const summary = {
      ...phases,
      seconds: result.seconds,
      size: result.size,
      literalBytes: result.literalBytes,
      matchedBytes: result.matchedBytes,
      chunks: result.chunks,
      bytesSent: result.bytesSent,
    };
    if (values.json) {
      console.log(JSON.stringify(summary));
      return;
    }
    const s = (x: number) => `${x.toFixed(3)} s`;
    console.log(
      `${newFile} against ${oldFile} (${result.chunks} chunks, ${chunking ? JSON.stringify(chunking) : 'default chunking'})\n` +
        `  signatures + match  ${s(phases.signaturesAndMatch)}\n` +
        `  plan + parts        ${s(phases.planAndParts)}\n` +
        `  rebuild + commit    ${s(phases.rebuildAndCommit)}\n` +
        `  total               ${s(result.seconds)}\n` +
        `  literal bytes       ${result.literalBytes} of ${result.size} (${((100 * result.literalBytes) / Math.max(1, result.size)).toFixed(2)}%), ${result.bytesSent} bytes sent in all`,
    );
  } finally {
    pool.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
}
