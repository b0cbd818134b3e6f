// Benchmark of the Worker under `wrangler dev --local` against the Node
// endpoint on the same files in the same run (issue 19): per push, the wall
// time of both, the Worker's own CPU (a sampling profile through the
// inspector, workers-inspector.ts), the bytes the Worker read from and wrote
// to R2 and the most R2 calls any one request made (DELTAFLARE_R2_STATS,
// worker/cloudflare/r2-stats.ts), and the requests answered 5xx or cut (each
// one an SDK retry). After each push it waits for the key's background
// compaction (alarms) to settle and reports what that moved. Files: 100 MiB,
// 1 GiB and 4 GiB, a first push then the same with 8 MiB inserted in the
// middle; then the GET throughput of the last version against a GET of the
// Node endpoint; last, reads of a version of ~100 extents against one
// object. Run: npm run bench:workers [-- --no-1g] [-- --no-4g] [-- --no-reads]
// (`-- --only 256`: one file of 256 MiB, no reads; with PROFILE_TOP=1 the
// profile's top functions too)
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createNodePool, push } from '../sdk/node/index.js';
import { serve } from '../worker/node/serve.js';
import { Inspector } from './workers-inspector.js';
import { startWranglerDev } from '../test/support/wrangler-dev.js';

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

/** One R2 stats line of the Worker (r2-stats.ts): `read` and `written` are its isolate's running totals. */
interface Tally {
  what: string;
  calls: number;
  isolate: string;
  read: number;
  written: number;
}

/** Sums the tallies printed since the last call; `alarms` counts the alarm invocations among them. */
class Tallies {
  private lines: Tally[] = [];
  private partial = '';
  /** Per isolate: the totals at the last take, and the latest seen. */
  private readonly base = new Map<string, { read: number; written: number }>();
  private readonly latest = new Map<string, { read: number; written: number }>();
  lastAlarm = 0;
  feed(text: string): void {
    const all = this.partial + text;
    const lines = all.split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      const m = /deltaflare-r2 (\{.*\})/.exec(line);
      if (!m) continue;
      const t = JSON.parse(m[1]) as Tally;
      if (t.what === 'alarm') this.lastAlarm = performance.now();
      const l = this.latest.get(t.isolate);
      this.latest.set(t.isolate, { read: Math.max(l?.read ?? 0, t.read), written: Math.max(l?.written ?? 0, t.written) });
      this.lines.push(t);
    }
  }
  /** What was printed since the last take (waits 1 s first: wrangler forwards output with a delay). */
  async take(): Promise<{ requests: number; alarms: number; read: number; written: number; maxCalls: number; maxWhat: string }> {
    await new Promise((res) => setTimeout(res, 1000));
    const ls = this.lines;
    this.lines = [];
    const top = ls.reduce<Tally | null>((m, t) => (m && m.calls >= t.calls ? m : t), null);
    let read = 0;
    let written = 0;
    for (const [iso, l] of this.latest) {
      const b = this.base.get(iso) ?? { read: 0, written: 0 };
      read += l.read - b.read;
      written += l.written - b.written;
      this.base.set(iso, { ...l });
    }
    return {
      requests: ls.filter((t) => t.what !== 'alarm').length,
      alarms: ls.filter((t) => t.what === 'alarm').length,
      read,
      written,
      maxCalls: top?.calls ?? 0,
      maxWhat: top?.what.replace(/s_[0-9a-f]+/, ':id').replace(/\/\d+$/, '/:n') ?? '',
    };
  }
}

/** fetch that counts answers >= 500 and cut requests (each makes the SDK retry). */
function countingFetch() {
  const c = { failed: 0 };
  const f: typeof fetch = async (input, init) => {
    try {
      const res = await fetch(input, init);
      if (res.status >= 500) c.failed++;
      return res;
    } catch (e) {
      c.failed++;
      throw e;
    }
  };
  return { f, c };
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function run(name: string, size: number) {
  const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
  const snap = snapshot();
  const tallies = new Tallies();
  const dev = await startWranglerDev({
    log: !!process.env.WRANGLER_LOG,
    root: snap,
    vars: { DELTAFLARE_R2_STATS: 'true' },
    onOutput: (t) => tallies.feed(t),
  });
  const node = await serve({ dir: join(dir, 'store'), port: 0 });
  const pool = await createNodePool(2);
  try {
    const args = dev.process.spawnargs;
    const insp = await Inspector.connect(Number(args[args.indexOf('--inspector-port') + 1]));
    const key = `${name.replace(' ', '')}.bin`;
    const path = join(dir, 'f');
    for (const [label, insert] of [
      ['first push', undefined],
      ['+ 8 MiB inserted', { at: Math.floor(size / 2 / 4096) * 4096 + 777, size: 8 << 20 }],
    ] as const) {
      writeFile(path, size, insert);
      let t0 = performance.now();
      await push(path, { endpoint: node.url, key, pool });
      const nodeMs = performance.now() - t0;
      const { f, c } = countingFetch();
      await tallies.take();
      await insp.startProfile();
      t0 = performance.now();
      const r = await push(path, { endpoint: dev.url, key, pool, fetch: f });
      const ms = performance.now() - t0;
      const cpu = await insp.stopProfile();
      const t = await tallies.take();
      // Background compaction: alarms keep coming 100 ms apart while it runs (a step of four 5 MiB parts takes
      // seconds here); settled after 10 s without one.
      await insp.startProfile();
      const s0 = performance.now();
      await new Promise((res) => setTimeout(res, 1500));
      while (performance.now() - Math.max(tallies.lastAlarm, s0) < 10_000 && performance.now() - s0 < 900_000) await new Promise((res) => setTimeout(res, 500));
      const bgCpu = await insp.stopProfile();
      const bg = await tallies.take();
      console.log(
        `| ${name} | ${label} | ${MiB(r.literalBytes)} | ${sec(nodeMs)} | ${sec(ms)} | ${(ms / nodeMs).toFixed(2)}x | ${(cpu.js / 1000).toFixed(2)} s |` +
          ` ${MiB(t.read)} | ${MiB(t.written)} | ${t.maxCalls} (${t.maxWhat}) | ${c.failed} |` +
          ` ${bg.alarms ? `${bg.alarms} alarms, ${MiB(bg.read)} read, ${MiB(bg.written)} written, ${(bgCpu.js / 1000).toFixed(2)} s CPU, max ${bg.maxCalls} calls` : 'none'} |`,
      );
    }
    // Whole-file GET of the last version: the Worker's recipe of extents against the Node endpoint's flat file.
    await tallies.take();
    const get = async (url: string) => {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/files/${key}`);
      let n = 0;
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) n += r.value.length;
      return { ms: performance.now() - t0, n };
    };
    const gn = await get(node.url);
    const gw = await get(dev.url);
    const gt = await tallies.take();
    console.log(
      `| ${name} | GET whole file | ${MiB(gw.n)} | ${sec(gn.ms)} | ${sec(gw.ms)} | ${(gw.ms / gn.ms).toFixed(2)}x | | ${MiB(gt.read)} | | ${gt.maxCalls} (${gt.maxWhat}) | | |`,
    );
    insp.close();
  } finally {
    pool.terminate();
    await node.close();
    await dev.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(snap, { recursive: true, force: true });
  }
}

/**
 * GET throughput of a version of ~100 extents (a 400 MiB first push in the
 * Worker's 4 MiB parts) against the same bytes compacted into one object (a
 * second Worker with COMPACTION {"at": 1, "to": 1}), both served at once,
 * alternating three GETs each.
 */
async function reads() {
  const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
  const snap = snapshot();
  const tallies = [new Tallies(), new Tallies()];
  const devs = [
    await startWranglerDev({ root: snap, vars: { DELTAFLARE_R2_STATS: 'true' }, onOutput: (t) => tallies[0].feed(t) }),
    await startWranglerDev({ root: snap, vars: { DELTAFLARE_R2_STATS: 'true', COMPACTION: '{"at": 1, "to": 1}' }, onOutput: (t) => tallies[1].feed(t) }),
  ];
  const pool = await createNodePool(2);
  try {
    const path = join(dir, 'f');
    writeFile(path, 400 << 20);
    for (const d of devs) await push(path, { endpoint: d.url, key: 'reads.bin', pool });
    const s0 = performance.now();
    while (performance.now() - Math.max(tallies[1].lastAlarm, s0) < 10_000 && performance.now() - s0 < 600_000)
      await new Promise((res) => setTimeout(res, 500));
    const times: number[][] = [[], []];
    const calls = [0, 0];
    for (let round = 0; round < 3; round++) {
      for (const i of [0, 1]) {
        await tallies[i].take();
        const t0 = performance.now();
        const res = await fetch(`${devs[i].url}/v1/files/reads.bin`);
        const reader = res.body!.getReader();
        while (!(await reader.read()).done);
        times[i].push(performance.now() - t0);
        calls[i] = (await tallies[i].take()).maxCalls;
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    const mbs = times.map((t) => (400 * 2 ** 20) / 1e6 / (median(t) / 1000));
    console.log('\n| 400 MiB version | R2 calls of the GET | GET median of 3 | MB/s |\n|---|---|---|---|');
    console.log(`| as pushed (recipe of 4 MiB pieces) | ${calls[0]} | ${sec(median(times[0]))} | ${mbs[0].toFixed(0)} |`);
    console.log(`| compacted into one object | ${calls[1]} | ${sec(median(times[1]))} | ${mbs[1].toFixed(0)} |`);
    console.log(`\nthroughput, pieces / one object: ${(mbs[0] / mbs[1]).toFixed(2)}x`);
  } finally {
    pool.terminate();
    for (const d of devs) await d.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(snap, { recursive: true, force: true });
  }
}

console.log(
  '| file | push | literal sent | Node wall | Worker wall | Worker / Node | Worker own CPU | R2 read | R2 written | most R2 calls in one request | 5xx or cut (retries) | background compaction after the push |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
const only = process.argv.indexOf('--only');
if (only > 0) await run(`${process.argv[only + 1]} MiB`, Number(process.argv[only + 1]) * 2 ** 20);
else {
  await run('100 MiB', 100 << 20);
  if (!process.argv.includes('--no-1g')) await run('1 GiB', 1 << 30);
  if (!process.argv.includes('--no-1g') && !process.argv.includes('--no-4g')) await run('4 GiB', 4 * 2 ** 30);
  if (!process.argv.includes('--no-reads')) await reads();
}
