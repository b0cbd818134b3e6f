// Benchmark of the Worker under `wrangler dev --local`: CPU time of the
// Worker's isolate per GB of file synced (a sampling profile through the
// inspector, workers-inspector.ts) and its peak JS heap, for a
// 100 MiB file then the same with 8 MiB inserted, and a 1 GiB file then the
// same with 8 MiB inserted. The whole workerd process's CPU and peak RSS are
// printed too: they also cover the local R2 and Durable Object simulation and
// wrangler's proxy, an upper bound of what the Worker would be billed. Run: npm run bench:workers [-- --no-1g]
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createNodePool, push } from '../sdk/node/index.js';
import { Inspector } from './workers-inspector.js';
import { startWranglerDev } from '../test/support/wrangler-dev.js';

const TICK = 100; // clock ticks per second (getconf CLK_TCK on Linux)

/** PIDs in the process group of `pgid`. */
function group(pgid: number): number[] {
  const out = execFileSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}
const isWorkerd = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'workerd';
  } catch {
    return false;
  }
};
/** user + system CPU ms of a process. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
}
const status = (pid: number, field: string) =>
  Number(
    /(\d+) kB/.exec(
      readFileSync(`/proc/${pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(field))!,
    )![1],
  ) * 1024;

let seed = 12345;
/** Writes `size` pseudo-random bytes to `path` in 16 MiB pieces; inserts `insert` fresh bytes at `at` when given (same seed: same base). */
function writeFile(path: string, size: number, insert?: { at: number; size: number }): void {
  seed = 12345;
  const fd = openSync(path, 'w');
  const piece = 16 << 20;
  const gen = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      b.writeUInt32LE(seed, i);
    }
    return b;
  };
  for (let done = 0; done < size; ) {
    const n = Math.min(piece, size - done);
    const b = gen(n);
    if (insert && done <= insert.at && insert.at < done + n) {
      const keep = seed;
      writeSync(fd, b, 0, insert.at - done);
      seed = 999;
      writeSync(fd, gen(insert.size));
      writeSync(fd, b, insert.at - done);
      seed = keep;
    } else writeSync(fd, b);
    done += n;
  }
  closeSync(fd);
}

/**
 * A snapshot of the committed tree plus the built wasm: wrangler dev reloads
 * (restarting workerd mid-push) whenever a file it bundles changes, and
 * others may be editing this checkout.
 */
function snapshot(): string {
  const root = resolve(import.meta.dirname, '..');
  const snap = mkdtempSync(join(tmpdir(), 'deltaflare-snap-'));
  execFileSync('sh', [
    '-c',
    `git -C '${root}' archive HEAD | tar -x -C '${snap}' && cp -r '${root}/build' '${snap}/' && ln -s '${root}/node_modules' '${snap}/node_modules'`,
  ]);
  return snap;
}

async function run(name: string, size: number) {
  const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
  const snap = snapshot();
  const dev = await startWranglerDev({ log: !!process.env.WRANGLER_LOG, root: snap });
  const pool = await createNodePool(2);
  try {
    const pids = group(dev.process.pid!).filter(isWorkerd);
    const cpu = () => pids.reduce((n, p) => n + cpuMs(p), 0);
    const args = dev.process.spawnargs;
    const insp = await Inspector.connect(Number(args[args.indexOf('--inspector-port') + 1]));
    let heapPeak = 0;
    const poll = setInterval(
      () =>
        void insp.heapUsed().then(
          (h) => (heapPeak = Math.max(heapPeak, h)),
          () => undefined,
        ),
      20,
    );
    const rows: string[] = [];
    for (const [label, insert] of [
      ['first push (all literal)', undefined],
      ['+ 8 MiB inserted', { at: Math.floor(size / 2 / 4096) * 4096 + 777, size: 8 << 20 }],
    ] as const) {
      const path = join(dir, 'f');
      writeFile(path, size, insert);
      const fileSize = size + (insert?.size ?? 0);
      heapPeak = 0;
      await insp.startProfile();
      const c0 = cpu();
      const t0 = performance.now();
      const r = await push(path, { endpoint: dev.url, key: `${name}.bin`, pool });
      const ms = performance.now() - t0;
      const c = cpu() - c0;
      const worker = await insp.stopProfile();
      const gb = fileSize / 1e9;
      rows.push(
        `| ${name} | ${label} | ${(r.literalBytes / 2 ** 20).toFixed(1)} MiB | ${(ms / 1000).toFixed(1)} s | ${worker.js.toFixed(0)} ms | ${(worker.js / gb).toFixed(0)} ms/GB | ${worker.busy.toFixed(0)} ms |` +
          ` ${(heapPeak / 2 ** 20).toFixed(1)} MiB | ${c.toFixed(0)} ms |`,
      );
    }
    clearInterval(poll);
    insp.close();
    const peak = pids.reduce((n, p) => n + status(p, 'VmHWM:'), 0);
    for (const r of rows) console.log(`${r} ${(peak / 2 ** 20).toFixed(0)} MiB |`);
  } finally {
    pool.terminate();
    await dev.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(snap, { recursive: true, force: true });
  }
}

console.log(
  '| file | push | literal sent | wall | Worker own CPU (script, wasm, GC) | per GB of file | isolate busy incl. native calls | Worker JS heap peak | whole workerd CPU (with local R2/DO) | workerd peak RSS |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
await run('100 MiB', 100 << 20);
if (!process.argv.includes('--no-1g')) await run('1 GiB', 1 << 30);
