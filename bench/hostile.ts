// npm run bench:hostile: what hostile requests can claim of a real
// `deltaflare serve` (its own process, default settings, a token), each
// measured as the server's peak resident memory (VmHWM, against the same
// server idle) and the bytes its store holds:
//   - 50 deflate bombs at once: parts of a few KiB that inflate to the part
//     size (8 MiB), with valid ops and signatures, so the server inflates
//     every one: bounded by the inflation budget (one part at a time);
//   - a session asking for 64-byte fixed blocks against a 256 MiB basis (a
//     manifest of 4M chunks): refused by maxManifestChunks before any work;
//   - filling the disk: sessions of the largest file size until refused,
//     and their staging areas: bounded by maxStagedBytesPerClient and the
//     free space, not by how many requests the client sends.
// Options: --bombs N (default 50).
import { DEFAULT_LIMITS } from '../core/base/limits.js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { init } from '../core/kernels/index.js';
import { deflateRaw } from '../core/protocol/compress.js';
import { chunkingFor } from '../core/protocol/chunking.js';
import { encodePart, encodeSignatures } from '../core/protocol/wire.js';
import { writeRandom } from './files.js';

const { values } = parseArgs({ options: { bombs: { type: 'string' } } });
const BOMBS = Number(values.bombs ?? 50);
const MiB = 1 << 20;
const TOKEN = 'hostile-bench-token-0123456789abcdef';
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'deltaflare-hostile-'));
const store = join(work, 'store');
const port = 20000 + Math.floor(Math.random() * 20000);
const url = `http://127.0.0.1:${port}`;

const server = spawn(CLI, ['serve', '--dir', store, '--port', String(port), '--token', TOKEN, '--no-demo'], { stdio: ['ignore', 'pipe', 'inherit'] });
process.once('exit', () => server.kill());
await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
const status = () => readFileSync(`/proc/${server.pid}/status`, 'utf8');
const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())![1]) / 1024;
const auth = { authorization: `Bearer ${TOKEN}` };
const request = (path: string, init: RequestInit = {}) => fetch(url + path, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } });
const json = (path: string, body: unknown) => request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Bytes free on the store's file system. */
const freeBytes = () => statfs(store).then((s) => s.bavail * s.bsize);

/** Bytes the store holds on disk (allocated blocks: sparse staging areas count what was written). */
async function storeBytes(dir = store): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath, e.name)).blocks * 512;
  }
  return n;
}

const rows: string[] = [];
const row = (what: string, requests: string, answer: string, peak: number, staged: number) =>
  rows.push(`| ${what} | ${requests} | ${answer} | ${peak.toFixed(0)} | ${(staged / MiB).toFixed(1)} |`);
const idle = mib('VmHWM');
row('server idle', '', '', idle, await storeBytes());

// 1. Deflate bombs: a file of BOMBS parts whose blocks deflate ~1000:1 (one byte repeated; a different byte per
// block, so no block repeats another), its signatures recorded, then every part at once.
const k = await init();
const part = DEFAULT_LIMITS.partSize;
const block = 64 * 1024;
const size = BOMBS * part;
{
  const created = (await (await json('/v1/sessions', { key: 'bombs.bin', size, chunking: { kind: 'fixed', block } })).json()) as { id: string };
  const blockOf = (i: number) => new Uint8Array(block).fill((i % 251) + 1).fill(i >> 8, 0, 1);
  const n = size / block;
  const crcs = new Uint32Array(n);
  for (let i = 0; i < n; i++) crcs[i] = k.crc32(blockOf(i));
  const lengths = new Uint32Array(n).fill(block);
  const perBatch = DEFAULT_LIMITS.maxSignaturesPerBatch;
  for (let first = 0; first < n; first += perBatch) {
    const end = Math.min(n, first + perBatch);
    const res = await request(`/v1/sessions/${created.id}/match`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: encodeSignatures({ firstIndex: first, crcs: crcs.subarray(first, end), lengths: lengths.subarray(first, end) }) as Uint8Array<ArrayBuffer>,
    });
    if (!res.ok) throw new Error(`match: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }
  const bodies: Uint8Array[] = [];
  for (let p = 0; p < BOMBS; p++) {
    const payload = new Uint8Array(part);
    for (let b = 0; b < part / block; b++) payload.set(blockOf(p * (part / block) + b), b * block);
    const z = await deflateRaw(payload);
    bodies.push(
      encodePart({ part: p, ops: [{ newOffset: p * part, length: part }], literalBytes: part, deflated: true, payload: z }, { crc32: (b) => k.crc32(b) }),
    );
  }
  const sent = bodies.reduce((s, b) => s + b.length, 0);
  const answers = await Promise.all(
    bodies.map((body, p) =>
      request(`/v1/sessions/${created.id}/parts/${p}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: body as Uint8Array<ArrayBuffer>,
      }),
    ),
  );
  const codes = new Map<number, number>();
  for (const a of answers) {
    codes.set(a.status, (codes.get(a.status) ?? 0) + 1);
    await a.arrayBuffer();
  }
  row(
    `${BOMBS} deflate bombs at once (${(sent / BOMBS / 1024).toFixed(1)} KiB each, ${part / MiB} MiB inflated)`,
    `${(sent / MiB).toFixed(2)} MiB`,
    [...codes].map(([c, n]) => `${n} x ${c}`).join(', '),
    mib('VmHWM'),
    await storeBytes(),
  );
  await request(`/v1/sessions/${created.id}`, { method: 'DELETE' });
}

// 2. A basis of 256 MiB, then a session asking for its manifest in 64-byte blocks.
{
  const basis = join(work, 'basis.bin');
  writeRandom(basis, 256 * MiB, 7);
  const pushed = spawn(CLI, ['push', basis, url, '--key', 'basis.bin', '--token', TOKEN, '--json'], { stdio: 'ignore' });
  await new Promise((r) => pushed.once('exit', r));
  rmSync(basis);
  const before = mib('VmHWM');
  const t0 = performance.now();
  const res = await json('/v1/sessions', { key: 'basis.bin', size: 256 * MiB, chunking: { kind: 'fixed', block: 64 } });
  const body = await res.text();
  const ms = performance.now() - t0;
  row(
    `64-byte blocks against a 256 MiB basis (4M chunks), after pushing it (peak ${before.toFixed(0)} MiB)`,
    '1 request',
    `${res.status} ${(JSON.parse(body) as { error: { code: string } }).error.code} in ${ms.toFixed(0)} ms`,
    mib('VmHWM'),
    await storeBytes(),
  );
}

// 3. Filling the disk: sessions of a quarter of maxFileSize until refused, from one client.
{
  const answers: number[] = [];
  const ids: string[] = [];
  const each = DEFAULT_LIMITS.maxFileSize / 4;
  for (let i = 0; i < 70; i++) {
    const res = await json('/v1/sessions', { key: `fill/${i}.bin`, size: each, chunking: chunkingFor(each, DEFAULT_LIMITS.maxManifestChunks) });
    answers.push(res.status);
    const b = (await res.json()) as { id?: string };
    if (b.id) ids.push(b.id);
    if (!res.ok) break;
  }
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  row(
    `sessions of ${each / 2 ** 30} GiB until refused (disk: ${((await freeBytes()) / 2 ** 30).toFixed(0)} GiB free)`,
    `${answers.length} requests`,
    [...counts].map(([c, n]) => `${n} x ${c}`).join(', '),
    mib('VmHWM'),
    await storeBytes(),
  );
  for (const id of ids) await request(`/v1/sessions/${id}`, { method: 'DELETE' });
}

server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
rmSync(work, { recursive: true, force: true });
console.log(
  `\n\`deltaflare serve\` with default settings (body budget 12 MiB, inflation budget one ${part / MiB} MiB part, maxManifestChunks ${DEFAULT_LIMITS.maxManifestChunks}, maxStagedBytesPerClient ${DEFAULT_LIMITS.maxStagedBytesPerClient / 2 ** 30} GiB), Node ${process.version}\n`,
);
console.log('| attack | sent | answers | server peak RSS (VmHWM) MiB | store on disk MiB |\n|---|---:|---|---:|---:|');
for (const r of rows) console.log(r);
process.exit(0);
