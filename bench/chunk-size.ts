// npm run bench:chunk-size: which CDC average chunk size sends the fewest
// bytes? Small chunks find more matches around each edit but cost more
// signatures and strong hashes (6 B up + ~8 B down per chunk); large chunks
// cost fewer signatures but resend more bytes around each edit. Runs the
// whole pipeline in this process (no network; bytes are the HTTP bodies the
// SDK sends and receives) for each avg on edit cases of a --size MiB file.
// --time: instead, the CPU cost of the signature pass at 4 vs 8 KiB average
// chunks (--runs N each, alternating, medians): the sequential chunker on
// this thread, and signatures() on 2 workers reading a --size MiB file
// (process CPU of all threads, and wall).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { init } from '../core/kernels/index.js';
import { createNodePool, fileSource, push } from '../sdk/node/index.js';
import { signatures } from '../sdk/signatures/pass.js';
import type { ChunkingSpec } from '../core/protocol/chunking.js';
import { concat, randomBytes } from '../test/support/bytes.js';
import { createApp } from '../worker/http/app.js';
import { FsStore } from '../worker/store/fs/store.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, time: { type: 'boolean' }, runs: { type: 'string' } } });
const MiB = 1 << 20;
const size = Number(values.size ?? 64) * MiB;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-chunk-size-'));
const pool = await createNodePool(2);
if (values.time) {
  await timeChunkSizes(Number(values.runs ?? 5));
  pool.terminate();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
const app = createApp({ store: await FsStore.open(join(dir, 'store')), kernels: await init() });
const fetchApp = ((input: RequestInfo | URL, init?: RequestInit) => app.fetch(new Request(input, init))) as typeof fetch;

const old = randomBytes(size, 1);
const overwritten = old.slice();
for (let i = 0; i < 64; i++) overwritten.set(randomBytes(4096, 100 + i), Math.floor((i * size) / 64 + 12_345) & ~4095);
const cases: Record<string, Uint8Array> = {
  [`${size / MiB} MiB + ${size / MiB / 12.5} MiB inserted`]: concat(old.subarray(0, size / 2), randomBytes(size / 12.5, 2), old.subarray(size / 2)),
  '64 scattered 4 KiB overwrites': overwritten,
  '16 scattered 100-byte inserts': (() => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 16; i++) parts.push(old.subarray((i * size) / 16, ((i + 1) * size) / 16), randomBytes(100, 200 + i));
    return concat(...parts);
  })(),
};
writeFileSync(join(dir, 'old'), old);

console.log(`| case | avg | chunks | literal MB | signatures + hashes + plan MB | all bytes MB |\n|---|---:|---:|---:|---:|---:|`);
let key = 0;
for (const [name, bytes] of Object.entries(cases)) {
  writeFileSync(join(dir, 'new'), bytes);
  for (const avg of [2048, 4096, 8192, 16384, 32768, 65536]) {
    const chunking: ChunkingSpec = { kind: 'cdc', min: avg / 4, avg, max: avg * 8, level: 1 };
    const common = { endpoint: 'http://deltaflare.local', key: `k${key++}`, pool, chunking, fetch: fetchApp };
    await push(join(dir, 'old'), common);
    const r = await push(join(dir, 'new'), common);
    const all = r.bytesSent + r.bytesReceived;
    console.log(
      `| ${name} | ${avg} | ${r.chunks} | ${(r.literalBytes / 1e6).toFixed(3)} | ${((all - r.literalBytes) / 1e6).toFixed(3)} | ${(all / 1e6).toFixed(3)} |`,
    );
  }
}
pool.terminate();
rmSync(dir, { recursive: true, force: true });

/** CPU of the signature pass per chunk size: sequential k.chunk on this thread, and signatures() on the 2-worker pool over a file. */
async function timeChunkSizes(runs: number): Promise<void> {
  const k = await init();
  const bytes = randomBytes(size, 7);
  const path = join(dir, 'random');
  writeFileSync(path, bytes);
  const avgs = [4096, 8192];
  const spec = (avg: number): ChunkingSpec & { kind: 'cdc' } => ({ kind: 'cdc', min: avg / 4, avg, max: avg * 8, level: 1 });
  const cpu = (f: () => Promise<unknown> | unknown) => async () => {
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    await f();
    const c = process.cpuUsage(c0);
    return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
  };
  const seq = (avg: number) => cpu(() => k.chunk(bytes, { ...spec(avg), blake3: true }));
  const pass = (avg: number) =>
    cpu(async () => {
      const source = await fileSource(path);
      for await (const _ of signatures(source, { chunking: spec(avg), pool })) void _;
      await source.close?.();
    });
  const results = new Map<string, { cpu: number[]; wall: number[] }>();
  const add = (key: string, r: { cpu: number; wall: number }) => {
    const row = results.get(key) ?? { cpu: [], wall: [] };
    row.cpu.push(r.cpu);
    row.wall.push(r.wall);
    results.set(key, row);
  };
  // warm-up
  for (const avg of avgs) {
    await seq(avg)();
    await pass(avg)();
  }
  for (let r = 0; r < runs; r++) {
    for (const avg of avgs) {
      add(`sequential k.chunk + CRC + BLAKE3, main thread|${avg}`, await seq(avg)());
      add(`signatures(), 2 workers reading the file|${avg}`, await pass(avg)());
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`${size / MiB} MiB random, FastCDC min avg/4, max 8 x avg, level 1; medians of ${runs} alternating runs after a warm-up\n`);
  console.log('| what | avg | CPU s | CPU s / GB | wall MB/s | CPU vs 8 KiB |\n|---|---:|---:|---:|---:|---:|');
  for (const [key, row] of results) {
    const [what, avg] = key.split('|');
    const base = median(results.get(`${what}|8192`)!.cpu);
    const c = median(row.cpu);
    console.log(
      `| ${what} | ${avg} | ${c.toFixed(3)} | ${(c / (size / 1e9)).toFixed(2)} | ${(size / 1e6 / median(row.wall)).toFixed(0)} | ${(c / base).toFixed(2)}x |`,
    );
  }
}
