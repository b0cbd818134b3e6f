// npm run bench:browser (second part): signature throughput (FastCDC-2020
// avg 8 KiB + CRC-32 + BLAKE3 per chunk, the whole signature pass of sync())
// in headless Chromium with 1, 2 and 4 module Web Workers, reading a picked
// File (random bytes in a temp file) with Blob.slice. Options: --size MiB (default 128), --runs N (default 3).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { launchChromium } from '../test/browser/chromium.js';
import type { SignatureRow } from './browser-signatures-page.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, runs: { type: 'string' } } });
const size = Number(values.size ?? 128) << 20;
const runs = Number(values.runs ?? 3);
const COUNTS = [1, 2, 4];

const bundle = (entry: string) =>
  build({ entryPoints: [new URL(entry, import.meta.url).pathname], bundle: true, format: 'esm', platform: 'browser', write: false })
    .then((b) => b.outputFiles[0].contents);
const [pageJs, workerJs] = await Promise.all([bundle('./browser-signatures-page.ts'), bundle('../sdk/pool/browser-worker.ts')]);
const files: Record<string, [string, string | Uint8Array]> = {
  '/': ['text/html', '<!doctype html><input type="file" id="file"><script type="module" src="/page.js"></script>'],
  '/page.js': ['text/javascript', pageJs],
  '/pool-worker.js': ['text/javascript', workerJs],
};
const server = createServer((req, res) => {
  const [type, body] = files[req.url ?? '/'] ?? files['/'];
  res.writeHead(200, { 'content-type': type }).end(body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-'));
const input = join(dir, 'random.bin');
writeFileSync(input, randomBytes(size));
const browser = await launchChromium();
let rows: SignatureRow[];
let cores: number;
try {
  const tab = await browser.context.newPage();
  tab.on('console', (m) => process.stderr.write(`chromium: ${m.text()}\n`));
  await tab.goto(`http://127.0.0.1:${port}/`);
  await tab.waitForFunction(() => 'bench' in window);
  await tab.setInputFiles('#file', input);
  cores = await tab.evaluate(() => navigator.hardwareConcurrency);
  rows = await tab.evaluate(
    ([r, c]) => (window as unknown as { bench: (r: number, c: number[]) => Promise<SignatureRow[]> }).bench(r, c),
    [runs, COUNTS] as [number, number[]],
  );
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(rows[0].runs);
console.log(`\nSignature pass in Chromium ${browser.context.browser()?.version() ?? ''} (module Web Workers, Blob.slice reads), ${size >> 20} MiB random, FastCDC-2020 avg 8 KiB + CRC-32 + BLAKE3, navigator.hardwareConcurrency = ${cores}, median of ${runs} runs after a warm-up\n`);
console.log('| workers | MB/s (median) | MB/s (best) | vs 1 worker | chunks |\n|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.workers} | ${median(r.runs).toFixed(0)} | ${Math.max(...r.runs).toFixed(0)} | ${(median(r.runs) / base).toFixed(2)} | ${r.chunks} |`);
}
