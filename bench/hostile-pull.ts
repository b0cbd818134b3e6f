// Part of npm run bench:hostile: the pull client against repeats and against
// servers that misbehave, each pull a CLI process (`deltaflare pull`) whose
// wall time and peak resident memory (maxRSS) are measured:
//   - 256 MiB of zeros in fixed 4 KiB blocks pulled onto zeros and onto
//     nothing, beside a 256 MiB random pull (the peer: goal within 2x);
//   - a proxy in front of a real `deltaflare serve` that sends an endless
//     manifest, ignores Range (the whole file as 200), claims 16.7M one-byte
//     digests, or sends an endless 206: refused, memory bounded by settings.
// Options: --size MiB (default 256).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeRandom } from './files.js';

const { values } = parseArgs({ options: { size: { type: 'string' } } });
const MiB = 1 << 20;
const SIZE = Number(values.size ?? 256) * MiB;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const RSS = new URL('../test/cli/report-rss.mjs', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'deltaflare-hostile-pull-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;

const server = spawn(CLI, ['serve', '--dir', join(work, 'store'), '--port', String(port), '--no-demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
process.once('exit', () => server.kill());
await once(server.stdout!, 'data');

/** Runs the CLI with `args`; answers its exit code, wall seconds, peak RSS (MiB) and the last line it printed. */
function cli(args: string[]): Promise<{ code: number; seconds: number; rssMiB: number; out: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile('node', ['--import', RSS, CLI, ...args], { maxBuffer: 1 << 24 }, (e, stdout, stderr) => {
      const rss = Number(/maxrss-kib (\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
      const out =
        `${stdout}${stderr}`
          .split('\n')
          .filter((l) => l && !l.startsWith('maxrss'))
          .pop() ?? '';
      resolve({ code: e ? Number(e.code ?? 1) : 0, seconds: (performance.now() - t0) / 1000, rssMiB: rss, out });
    });
  });
}

const rows: string[] = [];
const row = (what: string, r: { code: number; seconds: number; rssMiB: number }, answer: string) =>
  rows.push(`| ${what} | ${r.seconds.toFixed(2)} | ${r.rssMiB.toFixed(0)} | ${answer} |`);
const push = async (file: string, key: string, fixed: boolean) => {
  const r = await cli(['push', file, url, '--key', key, '--json', ...(fixed ? ['--chunking', 'fixed', '--block', '4096'] : [])]);
  if (r.code !== 0) throw new Error(`push ${key}: ${r.out}`);
};
const pulled = (out: string) => {
  const r = JSON.parse(out) as { fetchedBytes: number; zeroBytes: number; requests: number };
  return `fetched ${(r.fetchedBytes / MiB).toFixed(2)} MiB in ${r.requests} requests, ${(r.zeroBytes / MiB).toFixed(0)} MiB zeros`;
};

// 1. Zeros against random data, fixed 4 KiB blocks.
const random = join(work, 'random.bin');
writeRandom(random, SIZE, 1);
await push(random, 'random.bin', true);
const zeros = join(work, 'zeros.bin');
writeFileSync(zeros, new Uint8Array(0));
execFileSync('truncate', ['-s', String(SIZE), zeros]);
await push(zeros, 'zeros.bin', true);
for (const [what, key, local] of [
  [`${SIZE / MiB} MiB random onto nothing (the peer)`, 'random.bin', null],
  [`${SIZE / MiB} MiB of zeros onto nothing`, 'zeros.bin', null],
  [`${SIZE / MiB} MiB of zeros onto zeros`, 'zeros.bin', zeros],
] as const) {
  const target = join(work, `out-${key}`);
  rmSync(target, { force: true });
  if (local) copyFileSync(local, target);
  const r = await cli(['pull', url, target, '--key', key, '--json', '--no-fsync']);
  row(what, r, r.code === 0 ? pulled(r.out) : r.out);
  rmSync(target, { force: true });
}

// 2. A proxy that misbehaves in front of the real endpoint.
let mode: (req: IncomingMessage, res: ServerResponse) => Promise<boolean> = async () => false;
async function endless(res: ServerResponse, piece: Uint8Array, limit = 8 * 2 ** 30): Promise<void> {
  res.on('error', () => undefined);
  const closed = once(res, 'close');
  for (let sent = 0; !res.destroyed && sent < limit; sent += piece.length) {
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), closed]);
  }
  res.end();
}
/** Writes `body` to `res` as the client takes it, then ends it. */
async function pipe(body: ReadableStream<Uint8Array> | null, res: ServerResponse): Promise<void> {
  res.on('error', () => undefined);
  const closed = once(res, 'close');
  const reader = body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done || res.destroyed) break;
    if (!res.write(next.value)) await Promise.race([once(res, 'drain'), closed]);
  }
  await reader?.cancel().catch(() => undefined);
  res.end();
}

const proxy = createServer(async (req, res) => {
  if (await mode(req, res)) return;
  const h = new Headers();
  for (const [n, v] of Object.entries(req.headers)) if (typeof v === 'string' && n !== 'host') h.set(n, v);
  if (req.headers['x-strip-range']) h.delete('range');
  const answer = await fetch(url + req.url, { method: req.method, headers: h });
  res.writeHead(answer.status, Object.fromEntries(answer.headers));
  await pipe(answer.body, res);
});
proxy.listen(0, '127.0.0.1');
await once(proxy, 'listening');
const proxied = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
const local = join(work, 'local.bin');
writeRandom(local, SIZE, 2); // nothing in common with random.bin: every chunk is fetched
const cases: Array<[string, typeof mode]> = [
  [
    'an endless 200 manifest',
    async (req, res) => {
      if (!req.url!.includes('/v1/manifests/')) return false;
      res.writeHead(200);
      await endless(res, new Uint8Array(1 << 20));
      return true;
    },
  ],
  [
    'Range ignored: the whole file as 200',
    async (req, res) => {
      if (!req.headers.range) return false;
      const answer = await fetch(url + req.url, { headers: { authorization: req.headers.authorization ?? '' } });
      res.writeHead(200, Object.fromEntries(answer.headers));
      await pipe(answer.body, res);
      return true;
    },
  ],
  [
    'a manifest of 16.7M one-byte digests',
    async (req, res) => {
      if (!req.url!.includes('/v1/manifests/')) return false;
      const n = 16_700_000;
      const head = new DataView(new ArrayBuffer(40));
      head.setUint32(0, 0x31534644, true);
      head.setUint32(4, 1, true);
      head.setUint32(8, 64, true);
      head.setBigUint64(24, BigInt(n * 64), true);
      head.setUint32(32, n, true);
      head.setUint32(36, 1, true);
      res.writeHead(200, { 'x-deltaflare-version': 'v-x', 'content-length': String(40 + n) });
      res.write(new Uint8Array(head.buffer));
      await endless(res, new Uint8Array(1 << 20), n);
      return true;
    },
  ],
  [
    'an endless 206',
    async (req, res) => {
      if (!req.headers.range) return false;
      res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=x' });
      await endless(res, new Uint8Array(1 << 20));
      return true;
    },
  ],
];
for (const [what, how] of cases) {
  mode = how;
  const target = join(work, 'target.bin');
  copyFileSync(local, target);
  const r = await cli(['pull', proxied, target, '--key', 'random.bin', '--json', '--no-fsync', '--timeout', '60']);
  const error = r.code === 0 ? undefined : (JSON.parse(r.out) as { error: { code: string; message: string } }).error;
  row(`misbehaving server: ${what}`, r, error ? `${error.code}: ${error.message.replace(/^deltaflare: /, '').slice(0, 90)}` : 'pulled');
}
mode = async () => false;
proxy.close();
proxy.closeAllConnections();
server.kill('SIGTERM');
await once(server, 'exit');
rmSync(work, { recursive: true, force: true });

console.log(`\n\`deltaflare pull\` (CLI, 2 pool threads, --no-fsync) against \`deltaflare serve\` on loopback, Node ${process.version}\n`);
console.log('| pull | wall s | client peak RSS MiB | result |\n|---|---:|---:|---|');
for (const r of rows) console.log(r);
process.exit(0);
