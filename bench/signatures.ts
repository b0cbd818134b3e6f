// npm run bench:signatures: throughput of the signature pass (sdk/signatures/pass.ts)
// over a random file on disk with 1 and 2 pool workers, against the sequential
// k.chunk(bytes, { blake3: true }) on the same bytes in the same process.
// Options: --size MiB (default 256; 1024 for 1 GiB), --runs N (default 5,
// after one untimed warm-up run per configuration: the stitcher is JavaScript
// and the first pass runs it cold), --segment MiB (default 8), --file PATH
// (kept; default a temp file, removed).
// The signature passes run first, so the peak RSS printed for them does not
// include the whole-file buffer the sequential run needs.
import { randomFillSync } from 'node:crypto';
import { openSync, closeSync, writeSync, rmSync, mkdtempSync, readFileSync, existsSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { init } from '../core/kernels/index.js';
import { fileSource } from '../sdk/node/file-source.js';
import { createNodePool } from '../sdk/pool/node-pool.js';
import { DEFAULT_CHUNKING } from '../core/protocol/chunking.js';
import { signatures } from '../sdk/signatures/pass.js';

const { values } = parseArgs({
  options: { size: { type: 'string' }, runs: { type: 'string' }, segment: { type: 'string' }, file: { type: 'string' } },
});
const size = Number(values.size ?? 256) * 2 ** 20;
const runs = Number(values.runs ?? 5);
const segmentSize = Number(values.segment ?? 8) * 2 ** 20;
const log = (line: string) => process.stderr.write(`${line}\n`);
const peakRss = () => process.resourceUsage().maxRSS * 1024; // bytes, whole process (workers are threads)
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The file, written in 8 MiB pieces so making it needs no file-sized buffer.
const dir = values.file ? undefined : mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
const path = values.file ?? join(dir!, 'random.bin');
if (!existsSync(path) || statSync(path).size !== size) {
  const fd = openSync(path, 'w');
  const piece = new Uint8Array(8 << 20);
  for (let at = 0; at < size; at += piece.length) writeSync(fd, randomFillSync(piece).subarray(0, Math.min(piece.length, size - at)));
  closeSync(fd);
}

interface Row {
  what: string;
  seconds: number[];
  cpu: number[];
  digest?: string;
}

/** XOR of all chunk hashes plus the chunk count: cheap proof both paths cut and hashed the same. */
function fold(acc: { x: Uint8Array; n: number }, hashes: Uint8Array) {
  for (let i = 0; i < hashes.length; i++) acc.x[i & 31] ^= hashes[i];
  acc.n += hashes.length / 32;
}
const hex = (acc: { x: Uint8Array; n: number }) => `${acc.n}:${Buffer.from(acc.x).toString('hex').slice(0, 16)}`;

async function timed(what: string, rows: Row[], once: () => Promise<string>) {
  const row: Row = { what, seconds: [], cpu: [] };
  await once(); // warm-up
  for (let r = 0; r < runs; r++) {
    const cpu0 = process.cpuUsage(),
      t0 = performance.now();
    row.digest = await once();
    const t = (performance.now() - t0) / 1000,
      c = process.cpuUsage(cpu0);
    row.seconds.push(t);
    row.cpu.push((c.user + c.system) / 1e6);
    log(`${what} run ${r + 1}: ${(size / 1e6 / t).toFixed(0)} MB/s`);
  }
  rows.push(row);
}

const rows: Row[] = [];
const baseRss = process.memoryUsage().rss;
let poolRss = 0;
for (const workers of [1, 2]) {
  const pool = await createNodePool(workers);
  poolRss = Math.max(poolRss, process.memoryUsage().rss);
  try {
    await timed(`signatures(), ${workers} worker${workers > 1 ? 's' : ''}`, rows, async () => {
      const source = await fileSource(path);
      const acc = { x: new Uint8Array(32), n: 0 };
      try {
        for await (const b of signatures(source, { chunking: DEFAULT_CHUNKING, pool, segmentSize })) fold(acc, b.hashes);
      } finally {
        await source.close?.();
      }
      return hex(acc);
    });
  } finally {
    pool.terminate();
  }
}
const passRss = peakRss();

const k = await init();
const bytes = new Uint8Array(readFileSync(path).buffer);
await timed('k.chunk(bytes, { blake3: true }), main thread', rows, async () => {
  const acc = { x: new Uint8Array(32), n: 0 };
  for (const c of k.chunk(bytes, { ...DEFAULT_CHUNKING, blake3: true })) fold(acc, c.blake3!);
  return hex(acc);
});
if (dir) rmSync(dir, { recursive: true });

const seq = median(rows[rows.length - 1].seconds);
console.log(
  `Node ${process.version}, ${cpus()[0].model} x ${cpus().length}, ${mib(size)} random file, FastCDC 2/8/64 KiB + CRC32 + BLAKE3, segments of ${mib(segmentSize)}, median of ${runs} runs\n`,
);
console.log('| what | MB/s (median) | min..max | CPU s / GB | vs sequential |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) {
  const mbps = r.seconds.map((s) => size / 1e6 / s);
  const cpuPerGb = median(r.cpu) / (size / 1e9);
  console.log(
    `| ${r.what} | ${(size / 1e6 / median(r.seconds)).toFixed(0)} | ${Math.min(...mbps).toFixed(0)}..${Math.max(...mbps).toFixed(0)} | ${cpuPerGb.toFixed(2)} | ${(seq / median(r.seconds)).toFixed(2)}x |`,
  );
}
const same = new Set(rows.map((r) => r.digest)).size === 1;
console.log(
  `\nRSS: ${mib(baseRss)} at start (Node + tsx), ${mib(poolRss)} with the pool started; peak ${mib(passRss)} after the signature passes (file ${mib(size)}); peak ${mib(peakRss())} after the sequential run (whole file in memory).`,
);
console.log(`Same chunks and hashes on every path: ${same ? 'yes' : `NO (${rows.map((r) => r.digest).join(', ')})`}`);
if (!same) process.exitCode = 1;
