// npm run bench:browser (whole-sync part): deltaflare in a real page of
// headless Chromium against the peers a web app's users compare it with,
// each measured in the same run, alternately:
//   - first upload: the SDK's sync() in a page, Uppy with the deltaflare
//     plugin in the same page, the demo page, a plain PUT of the same File to
//     a sink (what tus/Uppy send without chunking), and the CLI (`deltaflare
//     push`);
//   - re-upload (8 MiB inserted in the middle of the file): the page, Uppy,
//     the demo and the CLI;
//   - on loopback and over an emulated link shared by all connections
//     (100 Mbit/s each way, 35 ms RTT: bench/relay.ts) for every tool;
//   - the signature pass alone with 1, 2 and 4 workers against the same
//     browser's raw reads of the File (Blob.slice, File.stream,
//     FileReaderSync, on the page and in a worker);
//   - the peak resident memory of the page's renderer process (the page and
//     its Web Workers run in it), sampled from /proc.
// Chromium is driven over the DevTools protocol directly (bench/cdp.ts), not
// through Playwright, whose network instrumentation slows request bodies.
// Options: --sizes 256,1024 (MiB), --links loopback,wan, --runs N (default 3),
// --only first,reupload,pass (default all), --json FILE, --timeline (print
// each SDK page push's stages and requests: User and Resource Timing).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import { samplePeak } from '../test/support/processes.js';
import { buildPage } from '../test/support/build-page.js';
import { Chromium, type Page } from './cdp.js';
import { sameBytes, writeRandom } from './files.js';
import { startRelay, type Relay } from './relay.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    links: { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    timeline: { type: 'boolean' },
  },
});
const MiB = 1 << 20;
const SIZES = (values.sizes ?? '256').split(',').map((s) => Number(s) * MiB);
const LINKS = (values.links ?? 'loopback,wan').split(',') as Array<'loopback' | 'wan'>;
const RUNS = Number(values.runs ?? 3);
const ONLY = new Set((values.only ?? 'first,reupload,pass').split(','));
const WAN = { rate: 100e6, rttMs: 35 };
const ROOT = new URL('..', import.meta.url).pathname;
// Run as users run the bin: through its shebang (its memory flags).
const CLI = join(ROOT, 'dist/cli/main.js');

const work = mkdtempSync(join(tmpdir(), 'deltaflare-bench-browser-'));
const site = join(work, 'site');
const store = join(work, 'store');
const log = (s: string) => process.stderr.write(`${s}\n`);

// The bench page and the demo, built by Vite as `npm run build:demo` builds the demo.
await buildPage(join(ROOT, 'bench/browser-page'), site);
await build({ configFile: join(ROOT, 'demo/vite.config.ts'), logLevel: 'warn', build: { outDir: join(site, 'demo'), emptyOutDir: true } });

/** A process we started; killed on exit. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill();
});
function child(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

// The endpoint: `deltaflare serve` with the page and the demo as its static folder.
const port = 20000 + Math.floor(Math.random() * 20000);
const server = child(CLI, ['serve', '--dir', store, '--port', String(port), '--static', site]);
await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
// The plain PUT's sink: reads and drops the body; allows the page's origin.
const sink = createServer((req, res) => {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-methods', 'PUT');
  res.setHeader('access-control-max-age', '600');
  req.on('data', () => {}).on('end', () => res.end());
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkPort = (sink.address() as { port: number }).port;

/** The endpoint and the sink as a tool reaches them: directly, or each behind its own emulated link. */
interface Route {
  endpoint: string;
  sink: string;
  relay?: Relay;
  close(): Promise<void>;
}
async function route(link: 'loopback' | 'wan'): Promise<Route> {
  if (link === 'loopback') return { endpoint: `http://127.0.0.1:${port}`, sink: `http://127.0.0.1:${sinkPort}/sink`, close: async () => {} };
  const relay = await startRelay({ target: { host: '127.0.0.1', port }, ...WAN });
  const sinkRelay = await startRelay({ target: { host: '127.0.0.1', port: sinkPort }, ...WAN });
  return {
    endpoint: `http://127.0.0.1:${relay.port}`,
    sink: `http://127.0.0.1:${sinkRelay.port}/sink`,
    relay,
    close: async () => void (await Promise.all([relay.close(), sinkRelay.close()])),
  };
}

interface Sample {
  seconds: number;
  bytes?: number;
  rendererMiB?: number;
}
interface Row {
  size: number;
  link: string;
  what: string;
  tool: string;
  runs: Sample[];
}
const rows: Row[] = [];
function record(size: number, link: string, what: string, tool: string, s: Sample): void {
  let row = rows.find((r) => r.size === size && r.link === link && r.what === what && r.tool === tool);
  if (!row) {
    row = { size, link, what, tool, runs: [] };
    rows.push(row);
  }
  row.runs.push(s);
  log(
    `${size / MiB} MiB ${link} ${what} | ${tool}: ${s.seconds.toFixed(2)} s${s.bytes ? `, ${(s.bytes / 1e6).toFixed(1)} MB` : ''}${s.rendererMiB ? `, renderer ${s.rendererMiB.toFixed(0)} MiB` : ''}`,
  );
}

const browser = await Chromium.launch();
const version = await browser.version();
let keyCount = 0;
const newKey = () => `bench-${process.pid}-${keyCount++}.bin`;

/** `deltaflare push`, as its own process: wall seconds. */
async function cli(file: string, r: Route, key: string): Promise<number> {
  const t0 = performance.now();
  const c = child(CLI, ['push', file, r.endpoint, '--key', key, '--json']);
  const code = await new Promise<number | null>((resolve) => c.once('exit', resolve));
  if (code !== 0) throw new Error(`deltaflare push ${file} failed (${code})`);
  return (performance.now() - t0) / 1000;
}

/**
 * Runs `fn` with the renderers' memory sampled and the link's bytes counted;
 * `page`'s garbage is collected first, so an earlier measurement's leftovers
 * do not count (a raw read of 1 GiB leaves hundreds of MiB for the collector).
 */
async function measured(r: Route, fn: () => Promise<number>, page?: Page): Promise<Sample> {
  await page?.send('HeapProfiler.collectGarbage');
  r.relay?.reset();
  const memory = samplePeak(browser.profile);
  const seconds = await fn();
  const peak = memory.stop();
  const c = r.relay?.counts();
  return { seconds, bytes: c && c.up + c.down, rendererMiB: peak / MiB };
}

/** The SDK page pushing `file` to `key`: seconds as the page measured them. */
async function pagePush(page: Page, file: string, r: Route, key: string): Promise<number> {
  await page.setFiles('#file', [file]);
  const result = await page.evaluate<{ wall: number }>(`bench.push(${JSON.stringify({ endpoint: r.endpoint, key })})`);
  if (values.timeline) {
    const stages = await page.evaluate<Array<[string, number, number]>>('bench.timeline()');
    log(`timeline of ${key} (name, start ms, duration ms):\n${stages.map((x) => `  ${x.join(' ')}`).join('\n')}`);
  }
  return result.wall;
}

/** Uppy with the deltaflare plugin on the bench page pushing `file` to `key`: seconds as the page measured them. */
async function uppyPush(page: Page, file: string, r: Route, key: string): Promise<number> {
  await page.setFiles('#file', [file]);
  return (await page.evaluate<{ wall: number }>(`bench.uppyPush(${JSON.stringify({ endpoint: r.endpoint, key })})`)).wall;
}

/** The demo page pushing `file` to `key`: from picking the file to its result. */
async function demoPush(page: Page, file: string, key: string): Promise<number> {
  const n = await page.evaluate<number>('deltaflareDemo.runs.length');
  await page.evaluate(`document.getElementById('key').value = ${JSON.stringify(key)}`);
  const t0 = performance.now();
  await page.setFiles('#file', [file]);
  const run = await page.waitFor<{ error?: { message: string } }>(`(r => r && (r.result || r.error) && r)(deltaflareDemo.runs[${n}])`);
  if (run.error) throw new Error(`demo: ${run.error.message}`);
  return (performance.now() - t0) / 1000;
}

const check = (file: string, key: string) => {
  if (!sameBytes(join(store, key), file)) throw new Error(`${key} on the server differs from ${file}`);
};

try {
  for (const size of SIZES) {
    const oldFile = join(work, `old-${size / MiB}`);
    const newFile = join(work, `new-${size / MiB}`);
    writeRandom(oldFile, size, 1);
    writeRandom(newFile, size, 1, { insert: { at: size / 2, bytes: 8 * MiB, seed: 2 } });
    for (const link of LINKS) {
      const r = await route(link);
      const base = r.endpoint;
      const page = await browser.open(`${base}/`);
      const demo = await browser.open(`${base}/demo/`);
      try {
        for (let i = 0; i < RUNS; i++) {
          if (ONLY.has('first')) {
            const what = 'first upload';
            await page.setFiles('#file', [oldFile]);
            record(
              size,
              link,
              what,
              'plain PUT of the File',
              await measured(r, () => page.evaluate<number>(`bench.plainPut(${JSON.stringify(r.sink)})`), page),
            );
            let key = newKey();
            record(size, link, what, 'SDK page', await measured(r, () => pagePush(page, oldFile, r, key), page));
            check(oldFile, key);
            key = newKey();
            record(size, link, what, 'Uppy plugin', await measured(r, () => uppyPush(page, oldFile, r, key), page));
            check(oldFile, key);
            key = newKey();
            record(size, link, what, 'demo page', await measured(r, () => demoPush(demo, oldFile, key), demo));
            check(oldFile, key);
            key = newKey();
            record(size, link, what, 'CLI', await measured(r, () => cli(oldFile, r, key)));
            check(oldFile, key);
          }
          if (ONLY.has('reupload')) {
            const what = 're-upload, 8 MiB inserted';
            const keys = [newKey(), newKey(), newKey(), newKey()];
            for (const key of keys) await cli(oldFile, r, key); // untimed: the basis
            record(size, link, what, 'SDK page', await measured(r, () => pagePush(page, newFile, r, keys[0]), page));
            record(size, link, what, 'Uppy plugin', await measured(r, () => uppyPush(page, newFile, r, keys[3]), page));
            record(size, link, what, 'demo page', await measured(r, () => demoPush(demo, newFile, keys[1]), demo));
            record(size, link, what, 'CLI', await measured(r, () => cli(newFile, r, keys[2])));
            for (const key of keys) check(newFile, key);
          }
        }
        if (ONLY.has('pass') && link === 'loopback') {
          await page.setFiles('#file', [oldFile]);
          for (let i = 0; i < RUNS; i++) {
            for (const workers of [1, 2, 4]) {
              record(
                size,
                link,
                'read the File',
                `signature pass, ${workers} worker${workers > 1 ? 's' : ''}`,
                await measured(r, () => page.evaluate<number>(`bench.pass(${workers})`), page),
              );
            }
            for (const how of ['stream, BYOB', 'stream', 'slice', 'FileReaderSync'] as const) {
              for (const where of how === 'FileReaderSync' ? ['worker'] : ['page', 'worker']) {
                record(
                  size,
                  link,
                  'read the File',
                  `${how} (${where})`,
                  await measured(r, () => page.evaluate<number>(`bench.rawRead('${how}', '${where}')`), page),
                );
              }
            }
          }
        }
      } finally {
        await page.close();
        await demo.close();
        await r.close();
      }
    }
    rmSync(oldFile);
    rmSync(newFile);
  }
} finally {
  await browser.close();
  server.kill();
  sink.close();
  rmSync(work, { recursive: true, force: true });
}

// ------------------------------------------------------------------ report
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const secondsOf = (r: Row) => median(r.runs.map((s) => s.seconds));
const find = (size: number, link: string, what: string, tool: string) =>
  rows.find((r) => r.size === size && r.link === link && r.what === what && r.tool === tool);
const rtt = (link: string) => (link === 'wan' ? WAN.rttMs / 1000 : 0);
const fastestRead = (size: number) =>
  Math.min(...rows.filter((r) => r.size === size && r.what === 'read the File' && !r.tool.startsWith('signature')).map(secondsOf));

console.log(
  `\nChromium ${version}, Node ${process.version}, median of ${RUNS} runs; links: loopback, and ${WAN.rate / 1e6} Mbit/s each way with ${WAN.rttMs} ms RTT shared by all connections\n`,
);
console.log('| size | link | what | tool | s | MB/s | vs plain PUT | vs CLI | bytes on the link MB | floor s | vs floor | renderer peak MiB |');
console.log('|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const s = secondsOf(r);
  const put = find(r.size, r.link, r.what, 'plain PUT of the File');
  const cliRow = find(r.size, r.link, r.what, 'CLI');
  const bytes = r.runs[0].bytes ? median(r.runs.map((x) => x.bytes!)) : undefined;
  // The floor: the link's time for these bytes (the page also reads the file once at least) + 3 round trips.
  const read = r.tool.includes('page') || r.tool.includes('Uppy') ? fastestRead(r.size) : 0;
  const floor =
    r.link === 'wan' && bytes && r.what !== 'read the File' ? Math.max(bytes / (WAN.rate / 8), Number.isFinite(read) ? read : 0) + 3 * rtt(r.link) : undefined;
  const ratio = (x?: Row) => (x && x !== r ? `${(secondsOf(x) / s).toFixed(2)}x` : '');
  const cells = [
    `${r.size / MiB} MiB`,
    r.link,
    r.what,
    r.tool,
    s.toFixed(2),
    (r.size / s / 1e6).toFixed(0),
    r.what === 'first upload'
      ? ratio(put)
      : r.what === 'read the File' && r.tool.startsWith('signature')
        ? `${(fastestRead(r.size) / s).toFixed(2)}x of the fastest read`
        : '',
    cliRow && cliRow !== r ? `${(s / secondsOf(cliRow)).toFixed(2)}x` : '',
    bytes ? (bytes / 1e6).toFixed(1) : '',
    floor ? floor.toFixed(2) : '',
    floor ? `${(s / floor).toFixed(2)}x` : '',
    r.tool.includes('page') || r.tool.includes('Uppy') || r.tool.includes('(') || r.tool.startsWith('signature')
      ? Math.max(...r.runs.map((x) => x.rendererMiB ?? 0)).toFixed(0)
      : '',
  ];
  console.log(`| ${cells.join(' | ')} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ chromium: version, rows }, null, 2));
process.exit(0);
