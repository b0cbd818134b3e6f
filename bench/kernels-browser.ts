// npm run bench:browser: the kernel suite in a module Web Worker in headless
// Chromium (Debian's), then the same suite in Node in this process, and the
// ratio Chromium / Node per kernel. Options: --size MiB (default 256), --runs N.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { launchChromium } from '../test/support/chromium.js';
import { type Measurement, runKernelSuite } from './kernel-suite.js';
import { ratioTable } from './report.js';

const { values } = parseArgs({ options: { size: { type: 'string' }, runs: { type: 'string' } } });
const size = Number(values.size ?? 256) << 20;
const runs = Number(values.runs ?? 5);

const bundle = await build({
  entryPoints: [new URL('./browser-worker.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  write: false,
});
const page = `<!doctype html><script type="module">
const worker = new Worker('/worker.js', { type: 'module' });
window.done = new Promise((resolve) => worker.onmessage = (e) => {
  if (e.data.log) console.log(e.data.log); else resolve(e.data);
});
worker.postMessage({ size: ${size}, runs: ${runs} });
</script>`;
const server = createServer((req, res) => {
  if (req.url === '/worker.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle.outputFiles[0].contents);
  } else res.writeHead(200, { 'content-type': 'text/html' }).end(page);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };

const browser = await launchChromium();
let chromiumResults: Measurement[];
try {
  const tab = await browser.context.newPage();
  tab.on('console', (m) => process.stderr.write(`chromium: ${m.text()}\n`));
  await tab.goto(`http://127.0.0.1:${port}/`);
  const outcome = await tab.evaluate(() => (window as unknown as { done: Promise<{ results?: Measurement[]; error?: string }> }).done);
  if (outcome.error) throw new Error(outcome.error);
  chromiumResults = outcome.results!;
} finally {
  await browser.close();
  server.close();
}
const version = browser.context.browser()?.version() ?? 'Chromium';
const nodeResults = await runKernelSuite({ size, runs, log: (l) => process.stderr.write(`node: ${l}\n`) });

console.log(`Chromium ${version} (module Web Worker) vs Node ${process.version}, ${size >> 20} MiB random input, single thread\n`);
console.log(ratioTable(chromiumResults));
console.log('\n| task | implementation | Chromium MB/s | Node MB/s | Chromium / Node |\n|---|---|---:|---:|---:|');
for (const c of chromiumResults) {
  const n = nodeResults.find((r) => r.task === c.task && r.who === c.who);
  if (n) console.log(`| ${c.task} | ${c.who} | ${c.mbPerSecond.toFixed(0)} | ${n.mbPerSecond.toFixed(0)} | ${(c.mbPerSecond / n.mbPerSecond).toFixed(2)} |`);
}
