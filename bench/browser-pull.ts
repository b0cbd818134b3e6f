// npm run bench:browser (second part) or `npx tsx bench/browser-pull.ts`: a
// pull into the origin private file system in Chromium against the Node CLI's
// `deltaflare pull` of the same versions, on loopback and over the emulated
// link (100 Mbit/s each way, 35 ms RTT), medians of --runs (3). The case:
// 100 MiB local copy, the version with 8 MiB inserted in the middle. The
// page is the bench page (bench/browser-page), served by the endpoint itself
// through the same route, so the page and the endpoint share an origin.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPage } from '../test/support/build-page.js';
import { Chromium } from './cdp.js';
import { sameBytes, writeRandom } from './files.js';
import { startRelay } from './relay.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, links: { type: 'string' } } });
const RUNS = Number(values.runs ?? 3);
const LINKS = (values.links ?? 'loopback,link').split(',');
const MiB = 1 << 20;
const ROOT = new URL('..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'deltaflare-bench-browser-pull-'));
const site = join(work, 'site');

await buildPage(join(ROOT, 'bench/browser-page'), site);
const oldFile = join(work, 'old-100M');
const newFile = join(work, 'new-108M');
writeRandom(oldFile, 100 * MiB, 1);
writeRandom(newFile, 100 * MiB, 1, { insert: { at: 50 * MiB, bytes: 8 * MiB, seed: 2 } });

const port = 20000 + Math.floor(Math.random() * 20000);
const server: ChildProcess = spawn(CLI, ['serve', '--dir', join(work, 'store'), '--port', String(port), '--static', site], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.once('exit', () => server.kill());
await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
spawnSync(CLI, ['push', newFile, `http://127.0.0.1:${port}`, '--key', 'insert.img'], { stdio: 'ignore' });

const browser = await Chromium.launch();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows: string[] = [];
for (const link of LINKS) {
  const relay = link === 'link' ? await startRelay({ target: { host: '127.0.0.1', port }, rate: 100e6, rttMs: 35 }) : undefined;
  const url = relay ? `http://127.0.0.1:${relay.port}` : `http://127.0.0.1:${port}`;
  const page = await browser.open(`${url}/`);
  await page.waitFor('typeof bench === "object"');
  const pageRuns: number[] = [];
  const cliRuns: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await page.setFiles('#file', [oldFile]);
    await page.evaluate(`bench.seedOpfs('copy.img')`);
    relay?.reset();
    const r = await page.evaluate<{ wall: number; size: number; fetchedBytes: number; bytesReceived: number; requests: number }>(
      `bench.pullOpfs({ endpoint: ${JSON.stringify(url)}, key: 'insert.img', name: 'copy.img' })`,
    );
    if (r.size !== 108 * MiB) throw new Error(`the page pulled ${r.size} bytes`);
    pageRuns.push(r.wall);
    if (relay) bytes.push(relay.counts().up + relay.counts().down);

    const local = join(work, 'local.img');
    copyFileSync(oldFile, local);
    // Asynchronously: the relay runs in this process, so a synchronous spawn would stall the link it needs.
    const t0 = performance.now();
    const c = spawn(CLI, ['pull', url, local, '--key', 'insert.img', '--json'], { stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => c.once('exit', resolve));
    if (code !== 0) throw new Error(`deltaflare pull failed (${code})`);
    cliRuns.push((performance.now() - t0) / 1000);
    if (!sameBytes(local, newFile)) throw new Error('the CLI pulled other bytes');
    const relayed = relay ? `, relay ${(bytes[i] / 1e6).toFixed(2)} MB` : '';
    process.stderr.write(
      `${link} run ${i + 1}: page ${r.wall.toFixed(2)} s (fetched ${(r.fetchedBytes / 1e6).toFixed(2)} MB, received ${(r.bytesReceived / 1e6).toFixed(2)} MB in ${r.requests} ranged GETs${relayed}), CLI ${cliRuns[i].toFixed(2)} s\n`,
    );
  }
  const p = median(pageRuns);
  const c = median(cliRuns);
  rows.push(`| ${link} | ${p.toFixed(2)} | ${c.toFixed(2)} | ${(p / c).toFixed(2)}x | ${bytes.length ? `${(median(bytes) / 1e6).toFixed(2)} MB` : ''} |`);
  await page.close();
  await relay?.close();
}
console.log(`Chromium ${await browser.version()}, 100 MiB copy, 8 MiB inserted, median of ${RUNS}\n`);
console.log('| link | page: pull into OPFS s | CLI: deltaflare pull s | page / CLI | bytes on the link (page) |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
await browser.close();
server.kill();
rmSync(work, { recursive: true, force: true });
