// Part of npm run bench:hostile: reads that must not exhaust the endpoint,
// each against a fresh `deltaflare serve` (its own process, default
// settings), measured as the growth of its resident memory (VmHWM after,
// against VmRSS before) and the answers:
//   - 400 concurrent block-digest requests of 8 MiB of spans each;
//   - 100 GETs of a 1M-chunk version's manifest whose clients read nothing;
//   - under `ulimit -n 1024`: 1,100 idle sockets, then 600 downloads nobody
//     reads, from five addresses, while another client asks /v1/info.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockQuery } from '../core/protocol/block-digests.js';
import { writeRandom } from './files.js';

const MiB = 1 << 20;
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'deltaflare-hostile-reads-'));
const rows: string[] = [];
let seq = 0;

/** A fresh `deltaflare serve` (under `ulimit -n` when given). */
async function start(fileLimit?: number) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = [CLI, 'serve', '--dir', join(work, `store-${seq++}`), '--port', String(port), '--no-demo'];
  const p = fileLimit
    ? spawn('bash', ['-c', `ulimit -n ${fileLimit}; exec node ${args.map((a) => `'${a}'`).join(' ')}`], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn('node', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => p.kill());
  await once(p.stdout!, 'data');
  const status = () => readFileSync(`/proc/${p.pid}/status`, 'utf8');
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())![1]) / 1024;
  const stop = async () => {
    p.kill('SIGTERM');
    await once(p, 'exit');
  };
  return { url: `http://127.0.0.1:${port}`, port, mib, stop };
}

const run = (args: string[]) =>
  new Promise<void>((resolve, reject) => {
    const p = spawn('node', [CLI, ...args], { stdio: 'ignore' });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')}: exit ${code}`))));
  });

/** A GET from `localAddress` on its own socket; answers the status once the body is read. */
const get = (port: number, path: string, localAddress: string) =>
  new Promise<number>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', () => resolve(0));
    req.end();
  });

/** A raw socket from `localAddress` that sends `text` (if any) and reads nothing. */
async function stalled(port: number, localAddress: string, text?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  await once(s, 'connect').catch(() => undefined);
  if (text) s.write(text);
  s.pause();
  return s;
}
const counts = (codes: number[]) => [...new Set(codes)].map((c) => `${codes.filter((x) => x === c).length} x ${c || 'refused'}`).join(', ');
const address = (i: number) => `127.0.0.${2 + (i % 5)}`;

// 1. 400 concurrent block-digest requests of 8 MiB each.
{
  const s = await start();
  const file = join(work, 'blocks.bin');
  writeRandom(file, 64 * MiB, 3);
  await run(['push', file, s.url, '--key', 'blocks.bin']);
  const head = await fetch(`${s.url}/v1/files/blocks.bin`, { method: 'HEAD' });
  const version = head.headers.get('x-deltaflare-version')!;
  const before = s.mib('VmRSS');
  const t0 = performance.now();
  const codes = await Promise.all(
    Array.from({ length: 400 }, (_, i) => {
      const spans = [{ offset: (i % 7) * 8 * MiB, length: 8 * MiB }];
      return get(s.port, `/v1/blocks/blocks.bin?${blockQuery({ version, block: 1024, digestBytes: 8, spans })}`, address(i));
    }),
  );
  rows.push(
    `| 400 concurrent block-digest requests of 8 MiB | ${counts(codes)} in ${((performance.now() - t0) / 1000).toFixed(1)} s | ${(s.mib('VmHWM') - before).toFixed(0)} |`,
  );
  await s.stop();
}

// 2. 100 stalled GETs of a 1M-chunk manifest (256 MiB in 256-byte blocks: 40 MiB encoded).
{
  const s = await start();
  const file = join(work, 'million.bin');
  writeRandom(file, 256 * MiB, 4);
  await run(['push', file, s.url, '--key', 'million.bin', '--chunking', 'fixed', '--block', '256']);
  rmSync(file);
  const warm = await fetch(`${s.url}/v1/manifests/million.bin`); // the manifest decoded once, as a first reader would
  await warm.arrayBuffer();
  const before = s.mib('VmRSS');
  const sockets = await Promise.all(
    Array.from({ length: 100 }, (_, i) => stalled(s.port, address(i), `GET /v1/manifests/million.bin HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`)),
  );
  await new Promise((r) => setTimeout(r, 3000)); // let the server fill what the sockets take
  const grew = s.mib('VmHWM') - before;
  const info = await fetch(`${s.url}/v1/info`);
  rows.push(`| 100 GETs of a 1M-chunk manifest (40 MiB) that read nothing, 3 s | /v1/info meanwhile: ${info.status} | ${grew.toFixed(0)} |`);
  for (const sock of sockets) sock.destroy();
  await s.stop();
}

// 3. Under `ulimit -n 1024`: 1,100 idle sockets, then 600 stalled downloads, from five addresses.
{
  const s = await start(1024);
  const file = join(work, 'big.bin');
  writeRandom(file, 64 * MiB, 5);
  await run(['push', file, s.url, '--key', 'big.bin']);
  const before = s.mib('VmRSS');
  const idle = await Promise.all(Array.from({ length: 1100 }, (_, i) => stalled(s.port, address(i))));
  const t0 = performance.now();
  const info1 = await get(s.port, '/v1/info', '127.0.0.1');
  const ms1 = performance.now() - t0;
  const downloads = await Promise.all(
    Array.from({ length: 600 }, (_, i) => stalled(s.port, address(i), `GET /v1/files/big.bin HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\n\r\n`)),
  );
  const t1 = performance.now();
  const info2 = await get(s.port, '/v1/info', '127.0.0.1');
  const ms2 = performance.now() - t1;
  rows.push(
    `| ulimit -n 1024: 1,100 idle sockets, then 600 downloads that read nothing (5 addresses) | /v1/info: ${info1} in ${ms1.toFixed(0)} ms, then ${info2} in ${ms2.toFixed(0)} ms | ${(s.mib('VmHWM') - before).toFixed(0)} |`,
  );
  for (const sock of [...idle, ...downloads]) sock.destroy();
  await s.stop();
}

rmSync(work, { recursive: true, force: true });
console.log(`\n\`deltaflare serve\` with default settings (read budget 32 MiB, idle 30 s, stalled 60 s, 256 sockets per address), Node ${process.version}\n`);
console.log('| reads | answers | server RSS growth MiB |\n|---|---|---:|');
for (const r of rows) console.log(r);
process.exit(0);
