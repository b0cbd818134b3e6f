// npm run bench:concurrent: many clients pushing different keys to one Node
// server at once (issue 6). One `deltaflare serve` process; N `deltaflare
// push` processes (--workers 1 each) push N different files at the same time,
// first in full (every byte literal), then an edited version of each (scattered
// 4 KiB overwrites and a 1 MiB insert: a delta push). The same two rounds run
// with 1 client alone first, on a fresh server, so the table compares N pushes
// at once against one. Reported per round: wall time, bytes on the wire (the
// clients' own counts), the server's peak RSS (VmHWM of a server process
// started for the round, on the same store) and the largest client peak RSS
// (GNU time).
// Every stored file is compared byte for byte with its client's file after
// every round. Options: --clients N (default 16), --size MiB (default 256),
// --workers N (signature threads per client, default 1).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sameBytes, writeRandom } from './files.js';

const { values } = parseArgs({ options: { clients: { type: 'string' }, size: { type: 'string' }, workers: { type: 'string' } } });
const MiB = 1 << 20;
const CLIENTS = Number(values.clients ?? 16);
const SIZE = Number(values.size ?? 256) * MiB;
const WORKERS = String(Number(values.workers ?? 1));
if (!(CLIENTS >= 1) || !(SIZE >= 8 * MiB)) throw new Error('--clients must be >= 1 and --size >= 8 (MiB)');
// Run as users run the bin: through its shebang (its memory flags).
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

/** The edits of client `i`'s second version: 8 overwrites of 4 KiB spread over the file, and 1 MiB of new bytes inserted at ~40%. */
function editsOf(i: number, size: number) {
  const overwrites = Array.from({ length: 8 }, (_, j) => Math.floor(((j + 0.5 + (i % 7) / 10) / 8) * (size - 4096)));
  return { overwrites, insertAt: Math.floor(size * 0.4) + i * 4099, insert: 1 * MiB };
}

/** Writes client `i`'s first version (`edited` false) or its edited second version, piece by piece. */
function writeVersion(path: string, i: number, size: number, edited: boolean): void {
  const { overwrites, insertAt, insert } = editsOf(i, size);
  writeRandom(
    path,
    size,
    1 + i,
    edited
      ? {
          edit: (at, piece) => {
            for (const o of overwrites) if (o >= at && o < at + piece.length) piece.fill(0xa5 ^ (o & 0xff), o - at, o - at + 4096);
          },
          insert: { at: insertAt, bytes: insert, seed: 1000 + i },
        }
      : {},
  );
}

const status = (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** `deltaflare serve` as its own process on a free port. */
async function startServer(dir: string) {
  const child: ChildProcess = spawn(CLI, ['serve', '--dir', dir, '--port', '0', '--no-demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /endpoint on (http:\/\/\S+),/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  const pid = child.pid!;
  return {
    url,
    /** Peak RSS (MiB) since start or the last reset. */
    peakMiB: () => status(pid, 'VmHWM'),
    rssMiB: () => status(pid, 'VmRSS'),
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

interface Pushed {
  rssMiB: number;
  bytesSent: number;
  bytesReceived: number;
  literalBytes: number;
}

/** One `deltaflare push` under GNU time (for its peak RSS). */
async function push(file: string, url: string, key: string): Promise<Pushed> {
  const child = spawn('/usr/bin/time', ['-f', '%M', CLI, 'push', file, url, '--key', key, '--workers', WORKERS, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`push ${key} failed (${code}): ${stderr}`);
  const r = JSON.parse(stdout);
  return { rssMiB: Number(stderr.trim().split('\n').pop()) / 1024, bytesSent: r.bytesSent, bytesReceived: r.bytesReceived, literalBytes: r.literalBytes };
}

interface Row {
  clients: number;
  round: string;
  seconds: number;
  bytes: number;
  literal: number;
  serverPeak: number;
  serverIdle: number;
  clientPeak: number;
}
const rows: Row[] = [];

const work = mkdtempSync(join(tmpdir(), 'deltaflare-bench-concurrent-'));
try {
  const t0 = performance.now();
  const files = Array.from({ length: CLIENTS }, (_, i) => ({ v1: join(work, `c${i}-v1`), v2: join(work, `c${i}-v2`) }));
  files.forEach((f, i) => {
    writeVersion(f.v1, i, SIZE, false);
    writeVersion(f.v2, i, SIZE, true);
  });
  process.stderr.write(`generated ${CLIENTS} x 2 files of ${SIZE / MiB} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  for (const n of CLIENTS > 1 ? [1, CLIENTS] : [1]) {
    const store = join(work, `store-${n}`);
    mkdirSync(store);
    for (const round of ['v1', 'v2'] as const) {
      // A fresh server process per round (same store): a Node process seldom
      // gives freed memory back, so a second round on the same process would
      // report the first round's peak again.
      const server = await startServer(store);
      try {
        const serverIdle = server.rssMiB();
        const keys = files.slice(0, n).map((_, i) => `client-${i}/disk.img`);
        const started = performance.now();
        const results = await Promise.all(keys.map((key, i) => push(files[i][round], server.url, key)));
        const seconds = (performance.now() - started) / 1000;
        const serverPeak = server.peakMiB();
        keys.forEach((key, i) => {
          if (!sameBytes(join(store, ...key.split('/')), files[i][round])) throw new Error(`stored ${key} differs from ${files[i][round]} after ${round}`);
        });
        const row: Row = {
          clients: n,
          round: round === 'v1' ? `full upload, ${SIZE / MiB} MiB each` : 'delta: 8 x 4 KiB overwrites + 1 MiB insert',
          seconds,
          bytes: results.reduce((s, r) => s + r.bytesSent + r.bytesReceived, 0),
          literal: results.reduce((s, r) => s + r.literalBytes, 0),
          serverPeak,
          serverIdle,
          clientPeak: Math.max(...results.map((r) => r.rssMiB)),
        };
        rows.push(row);
        process.stderr.write(
          `${n} client(s), ${round}: ${seconds.toFixed(1)} s, server peak ${serverPeak.toFixed(0)} MiB (idle ${serverIdle.toFixed(0)}), client peak ${row.clientPeak.toFixed(0)} MiB; ${n} stored file(s) verified\n`,
        );
      } finally {
        await server.stop();
      }
    }
    rmSync(store, { recursive: true, force: true });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `\nNode ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${CLIENTS} clients x ${SIZE / MiB} MiB, push --workers ${WORKERS}; every stored file verified byte for byte\n`,
);
console.log(
  '| pushes at once | round | wall s | MB on the wire (all clients) | literal MB | server RSS at start, MiB | server peak RSS, MiB | vs 1 push | largest client peak RSS, MiB |',
);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const alone = rows.find((o) => o.clients === 1 && o.round === r.round)!;
  console.log(
    `| ${r.clients} | ${r.round} | ${r.seconds.toFixed(1)} | ${(r.bytes / 1e6).toFixed(1)} | ${(r.literal / 1e6).toFixed(1)} | ${r.serverIdle.toFixed(0)} | ${r.serverPeak.toFixed(0)} | ${(r.serverPeak / alone.serverPeak).toFixed(2)}x | ${r.clientPeak.toFixed(0)} |`,
  );
}
