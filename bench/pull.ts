// npm run bench:pull: `deltaflare pull` (and with --no-fsync, rsync's durability) against rsync pulling from its daemon
// and zsync (Debian's, with zsyncmake's control file, fetching from
// deltaflare's own ranged GET), each updating the old file to the new one,
// on loopback and over the emulated link (100 Mbit/s each way, 35 ms RTT).
// Bytes on the wire are counted at the socket by a relay for every tool (and
// zsync's control file, which it reads from disk here, added to its bytes);
// client peak RSS by GNU time. Tools run alternately, median of --runs.
// Options: --runs N (3), --cases insert,vm (both), --big MiB (1024), --links loopback,link (both).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sameBytes, writeRandom, writeVmImages } from './files.js';
import { startRelay, type Relay } from './relay.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, cases: { type: 'string' }, big: { type: 'string' }, links: { type: 'string' } } });
const RUNS = Number(values.runs ?? 3);
const CASES = new Set((values.cases ?? 'insert,vm').split(','));
const LINKS = new Set((values.links ?? 'loopback,link').split(','));
const BIG = Number(values.big ?? 1024) << 20;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'deltaflare-bench-pull-'));
const MiB = 1 << 20;
const LINK = { rate: 100e6, rttMs: 35 };

interface Run {
  seconds: number;
  bytes: number;
  rssMiB: number;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function time(cmd: string, args: string[], cwd = work): Promise<{ seconds: number; rssMiB: number }> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr}`);
  return { seconds, rssMiB: Number(stderr.trim().split('\n').pop()) / 1024 };
}

function startProcess(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill());
  return child;
}

const rows: { case: string; link: string; tool: string; runs: Run[] }[] = [];
function record(c: string, link: string, tool: string, run: Run): void {
  let row = rows.find((r) => r.case === c && r.link === link && r.tool === tool);
  if (!row) {
    row = { case: c, link, tool, runs: [] };
    rows.push(row);
  }
  row.runs.push(run);
  process.stderr.write(`${c} | ${link} | ${tool}: ${run.seconds.toFixed(2)} s, ${(run.bytes / 1e6).toFixed(2)} MB\n`);
}

// One deltaflare server and one rsync daemon for every case; a relay per link in front of each.
const store = join(work, 'store');
const port = 20000 + Math.floor(Math.random() * 20000);
const server = startProcess(CLI, ['serve', '--dir', store, '--port', String(port), '--no-demo']);
await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
const daemonDir = join(work, 'rsyncd');
mkdirSync(daemonDir);
writeFileSync(join(work, 'rsyncd.conf'), `use chroot = no\n[bench]\npath = ${daemonDir}\nread only = yes\nuid = root\ngid = root\n`);
const daemonPort = 40000 + Math.floor(Math.random() * 20000);
const daemon = startProcess('rsync', ['--daemon', '--no-detach', '--port', String(daemonPort), '--config', join(work, 'rsyncd.conf')]);
await new Promise((r) => setTimeout(r, 300));
const relays: Record<string, { df: Relay; rsync: Relay }> = {};
for (const link of LINKS) {
  const opts = link === 'link' ? LINK : {};
  relays[link] = {
    df: await startRelay({ target: { host: '127.0.0.1', port }, ...opts }),
    rsync: await startRelay({ target: { host: '127.0.0.1', port: daemonPort }, ...opts }),
  };
}

async function pullCase(name: string, oldFile: string, newFile: string, key: string, zsyncBlock: number, pushArgs: string[] = []): Promise<void> {
  // Untimed: the new version pushed (its manifest stored at commit), rsync's copy, zsync's control file.
  const base = `http://127.0.0.1:${port}`;
  spawnSync(CLI, ['push', newFile, base, '--key', key, ...pushArgs], { stdio: 'ignore' });
  copyFileSync(newFile, join(daemonDir, key));
  for (const [link, r] of Object.entries(relays)) {
    const control = join(work, `${key}-${link}.zsync`);
    spawnSync('zsyncmake', ['-b', String(zsyncBlock), '-u', `http://127.0.0.1:${r.df.port}/v1/files/${key}`, '-o', control, newFile], { stdio: 'ignore' });
    const local = join(work, `local-${key}`);
    // Each tool starts from the old file with no dirty pages left to write back: the copy's writeback (~1 GiB
    // on the VM case) would otherwise be charged to whichever tool runs next (measure() syncs after the copy).
    /** One timed update of `local` by a tool, its bytes counted by `relay` (plus `extraBytes`), its result checked. */
    const measure = async (tool: string, relay: Relay, cmd: string, args: string[], extraBytes = 0) => {
      copyFileSync(oldFile, local);
      spawnSync('sync');
      relay.reset();
      const t = await time(cmd, args);
      const c = relay.counts();
      if (!sameBytes(local, newFile)) throw new Error(`${tool} of ${key} differs`);
      record(name, link, tool, { ...t, bytes: c.up + c.down + extraBytes });
    };
    const df = ['pull', `http://127.0.0.1:${r.df.port}`, local, '--key', key, '--json'];
    for (let i = 0; i < RUNS; i++) {
      await measure('deltaflare pull', r.df, CLI, df);
      // Durable as rsync is by default: no fsync before the answer.
      await measure('deltaflare pull --no-fsync', r.df, CLI, [...df, '--no-fsync']);
      await measure('rsync daemon --no-whole-file', r.rsync, 'rsync', ['--no-whole-file', `rsync://127.0.0.1:${r.rsync.port}/bench/${key}`, local]);
      rmSync(`${local}.zs-old`, { force: true });
      // zsync reads its control file from a path here; a user downloads it first: its size counts as received.
      await measure(`zsync -b ${zsyncBlock}`, r.df, 'zsync', ['-q', '-i', local, '-o', local, control], statSync(control).size);
    }
  }
}

if (CASES.has('insert')) {
  const oldSmall = join(work, 'old-100M');
  const newSmall = join(work, 'new-108M');
  writeRandom(oldSmall, 100 * MiB, 1);
  writeRandom(newSmall, 100 * MiB, 1, { insert: { at: 50 * MiB, bytes: 8 * MiB, seed: 2 } });
  await pullCase('100 MiB + 8 MiB inserted', oldSmall, newSmall, 'insert.img', 2048);
}

if (CASES.has('vm')) {
  const oldBig = join(work, 'old-big');
  const newBig = join(work, 'new-big');
  writeVmImages(oldBig, newBig, BIG);
  await pullCase(`${BIG / MiB} MiB, 256 x 4 KiB overwrites, cdc`, oldBig, newBig, 'vm-cdc.img', 4096);
  await pullCase(`${BIG / MiB} MiB, 256 x 4 KiB overwrites, fixed 4 KiB`, oldBig, newBig, 'vm-fixed.img', 4096, ['--chunking', 'fixed', '--block', '4096']);
}

const version = (cmd: string, re: RegExp) => re.exec(spawnSync(cmd, ['--version'], { encoding: 'utf8' }).stdout)?.[1] ?? '?';
console.log(`Node ${process.version}, rsync ${version('rsync', /version (\S+)/)}, zsync ${version('zsync', /zsync (\S+)/)}, median of ${RUNS}\n`);
console.log('| case | link | tool | wall s | vs rsync | bytes on the wire | vs rsync | client peak RSS MiB |');
console.log('|---|---|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const peer = rows.find((r) => r.case === row.case && r.link === row.link && r.tool.startsWith('rsync'))!;
  const s = median(row.runs.map((r) => r.seconds));
  const b = median(row.runs.map((r) => r.bytes));
  const ps = median(peer.runs.map((r) => r.seconds));
  const pb = median(peer.runs.map((r) => r.bytes));
  const rss = Math.max(...row.runs.map((r) => r.rssMiB));
  console.log(
    `| ${row.case} | ${row.link} | ${row.tool} | ${s.toFixed(2)} | ${(s / ps).toFixed(2)}x | ${(b / 1e6).toFixed(2)} MB | ${(b / pb).toFixed(2)}x | ${rss.toFixed(0)} |`,
  );
}
for (const r of Object.values(relays)) {
  await r.df.close();
  await r.rsync.close();
}
server.kill();
daemon.kill();
rmSync(work, { recursive: true, force: true });
