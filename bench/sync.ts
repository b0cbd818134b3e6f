// npm run bench:sync: deltaflare push vs rsync --no-whole-file on the cases of
// issue 3, client and server as separate processes on this machine, each tool
// run alternately, median of --runs (default 3). Bytes on the wire are counted
// at the socket by a relay (bench/relay.ts) for deltaflare and rsync's daemon
// mode, and by rsync --stats for local rsync (its sender<->receiver pipe).
// Options: --runs N, --cases insert,wan,vm (default all), --big MiB (default 1024).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandom, writeVmImages } from './files.js';
import { startRelay, type Relay } from './relay.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, big: { type: 'string' } } });
const RUNS = Number(values.runs ?? 3);
const CASES = new Set((values.cases ?? 'insert,wan,vm').split(','));
const BIG = Number(values.big ?? 1024) << 20;
// Run as users run the bin: through its shebang (its memory flags).
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
const MiB = 1 << 20;

interface Run {
  seconds: number;
  bytes: number;
  rssMiB?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Runs a command under GNU time (for its peak RSS). Asynchronous: the relays live in this process. */
async function time(cmd: string, args: string[]): Promise<{ seconds: number; stdout: string; rssMiB: number }> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr}`);
  const rss = Number(stderr.trim().split('\n').pop());
  return { seconds, stdout, rssMiB: rss / 1024 };
}

/** A deltaflare server as its own process, with a relay in front. */
async function startServer(dir: string, relayOptions: { rate?: number; rttMs?: number } = {}) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child: ChildProcess = spawn(CLI, ['serve', '--dir', dir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill()); // a failed run must not leave its server behind
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  const relay = await startRelay({ target: { host: '127.0.0.1', port }, ...relayOptions });
  return {
    url: `http://127.0.0.1:${relay.port}`,
    relay,
    peakRssMiB: () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    stop: async () => {
      await relay.close();
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function push(file: string, url: string, key: string, relay: Relay, extra: string[] = []): Promise<Run> {
  relay.reset();
  const r = await time(CLI, ['push', file, url, '--key', key, '--json', ...extra]);
  const { up, down } = relay.counts();
  return { seconds: r.seconds, bytes: up + down, rssMiB: r.rssMiB };
}

async function rsyncLocal(oldFile: string, newFile: string, dst: string): Promise<Run> {
  copyFileSync(oldFile, dst);
  spawnSync('sync');
  const r = await time('rsync', ['--no-whole-file', '--stats', newFile, dst]);
  const sent = Number(/Total bytes sent: ([\d,]+)/.exec(r.stdout)![1].replace(/,/g, ''));
  const received = Number(/Total bytes received: ([\d,]+)/.exec(r.stdout)![1].replace(/,/g, ''));
  return { seconds: r.seconds, bytes: sent + received, rssMiB: r.rssMiB };
}

interface Row {
  case: string;
  tool: string;
  runs: Run[];
}
const rows: Row[] = [];
const record = (c: string, tool: string, run: Run) => {
  let row = rows.find((r) => r.case === c && r.tool === tool);
  if (!row) {
    row = { case: c, tool, runs: [] };
    rows.push(row);
  }
  row.runs.push(run);
  process.stderr.write(`${c} | ${tool}: ${run.seconds.toFixed(2)} s, ${(run.bytes / 1e6).toFixed(2)} MB\n`);
};

// --- the ParaSync/SkySync case: 100 MiB random, 8 MiB inserted in the middle
const oldSmall = join(work, 'old-100M');
const newSmall = join(work, 'new-108M');
writeRandom(oldSmall, 100 * MiB, 1);
writeRandom(newSmall, 100 * MiB, 1, { insert: { at: 50 * MiB, bytes: 8 * MiB, seed: 2 } });

if (CASES.has('insert')) {
  const store = join(work, 'store-insert');
  const server = await startServer(store);
  const rsyncDir = join(work, 'rsync-insert');
  mkdirSync(rsyncDir, { recursive: true });
  for (let i = 0; i < RUNS; i++) {
    await push(oldSmall, server.url, `stored-${i}.img`, server.relay); // untimed: the basis, manifest stored at commit
    mkdirSync(join(store), { recursive: true });
    copyFileSync(oldSmall, join(store, `placed-${i}.img`)); // untimed: a basis placed by hand
    spawnSync('sync');
    record('100 MiB + 8 MiB inserted', 'deltaflare (basis pushed before)', await push(newSmall, server.url, `stored-${i}.img`, server.relay));
    record('100 MiB + 8 MiB inserted', 'rsync --no-whole-file', await rsyncLocal(oldSmall, newSmall, join(rsyncDir, 'file.img')));
    record('100 MiB + 8 MiB inserted', 'deltaflare (basis placed by hand)', await push(newSmall, server.url, `placed-${i}.img`, server.relay));
  }
  process.stderr.write(`server peak RSS ${server.peakRssMiB().toFixed(0)} MiB\n`);
  await server.stop();
}

if (CASES.has('wan')) {
  // 100 Mbit/s each way, 35 ms round trip, for both tools.
  const link = { rate: 100e6, rttMs: 35 };
  const store = join(work, 'store-wan');
  const server = await startServer(store, link);
  const daemonDir = join(work, 'rsyncd');
  mkdirSync(daemonDir, { recursive: true });
  const conf = join(work, 'rsyncd.conf');
  writeFileSync(conf, `use chroot = no\n[bench]\npath = ${daemonDir}\nread only = no\nuid = root\ngid = root\n`);
  const daemonPort = 40000 + Math.floor(Math.random() * 20000);
  const daemon = spawn('rsync', ['--daemon', '--no-detach', '--port', String(daemonPort), '--config', conf], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const rsyncRelay = await startRelay({ target: { host: '127.0.0.1', port: daemonPort }, ...link });
  for (let i = 0; i < RUNS; i++) {
    await push(oldSmall, server.url, `wan-${i}.img`, server.relay);
    record('WAN 100 Mbit/s, 35 ms RTT: 100 MiB + 8 MiB', 'deltaflare (basis pushed before)', await push(newSmall, server.url, `wan-${i}.img`, server.relay));
    copyFileSync(oldSmall, join(daemonDir, 'file.img'));
    rsyncRelay.reset();
    const r = await time('rsync', ['--no-whole-file', '--stats', newSmall, `rsync://127.0.0.1:${rsyncRelay.port}/bench/file.img`]);
    const c = rsyncRelay.counts();
    record('WAN 100 Mbit/s, 35 ms RTT: 100 MiB + 8 MiB', 'rsync daemon --no-whole-file', { seconds: r.seconds, bytes: c.up + c.down, rssMiB: r.rssMiB });
  }
  daemon.kill();
  await rsyncRelay.close();
  await server.stop();
}

if (CASES.has('vm')) {
  // A VM image: BIG random, 256 scattered 4 KiB overwrites at 4 KiB-aligned offsets.
  const oldBig = join(work, 'old-big');
  const newBig = join(work, 'new-big');
  writeVmImages(oldBig, newBig, BIG);
  const store = join(work, 'store-vm');
  const server = await startServer(store);
  const rsyncDir = join(work, 'rsync-vm');
  mkdirSync(rsyncDir, { recursive: true });
  const name = `${BIG / MiB} MiB, 256 x 4 KiB overwrites`;
  for (let i = 0; i < RUNS; i++) {
    await push(oldBig, server.url, `vm-cdc-${i}.img`, server.relay);
    await push(oldBig, server.url, `vm-fixed-${i}.img`, server.relay, ['--chunking', 'fixed', '--block', '4096']);
    record(name, 'deltaflare cdc', await push(newBig, server.url, `vm-cdc-${i}.img`, server.relay));
    record(name, 'rsync --no-whole-file', await rsyncLocal(oldBig, newBig, join(rsyncDir, 'file.img')));
    record(name, 'deltaflare fixed 4 KiB', await push(newBig, server.url, `vm-fixed-${i}.img`, server.relay, ['--chunking', 'fixed', '--block', '4096']));
  }
  process.stderr.write(`server peak RSS ${server.peakRssMiB().toFixed(0)} MiB\n`);
  rows.push({ case: name, tool: 'server peak RSS (MiB)', runs: [{ seconds: 0, bytes: 0, rssMiB: server.peakRssMiB() }] });
  await server.stop();
}

console.log(`Node ${process.version}, rsync ${/version (\S+)/.exec(spawnSync('rsync', ['--version'], { encoding: 'utf8' }).stdout)?.[1]}, median of ${RUNS}\n`);
console.log('| case | tool | wall s | vs rsync | bytes on the wire | vs rsync | client peak RSS MiB |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  if (row.tool.startsWith('server')) {
    console.log(`| ${row.case} | ${row.tool} | | | | | ${row.runs[0].rssMiB!.toFixed(0)} |`);
    continue;
  }
  const peer = rows.find((r) => r.case === row.case && r.tool.startsWith('rsync'))!;
  const s = median(row.runs.map((r) => r.seconds));
  const b = median(row.runs.map((r) => r.bytes));
  const ps = median(peer.runs.map((r) => r.seconds));
  const pb = median(peer.runs.map((r) => r.bytes));
  const rss = Math.max(...row.runs.map((r) => r.rssMiB ?? 0));
  console.log(
    `| ${row.case} | ${row.tool} | ${s.toFixed(2)} | ${(s / ps).toFixed(2)}x | ${(b / 1e6).toFixed(2)} MB | ${(b / pb).toFixed(2)}x | ${rss.toFixed(0)} |`,
  );
}
rmSync(work, { recursive: true, force: true });
