// The integrations as a team would use them, from the packed package
// installed with Uppy and React beside it: a Dashboard page with the Uppy
// plugin and a React page with usePush, each built by Vite and driven in
// Chromium against a user's Node server (consumer/server.mjs); usePush
// rendered on the server (SSR); the size each integration adds.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../support/bytes.js';
import { launchChromium } from '../support/chromium.js';

const repo = join(import.meta.dirname, '../..');
const bin = (tool: string) => join(repo, 'node_modules/.bin', tool);
const consumer = join(import.meta.dirname, 'consumer');
const work = mkdtempSync(join(tmpdir(), 'deltaflare-integrations-'));
const project = join(work, 'project');
/** The versions the repo tests with (its devDependencies), installed in the user's project as the user would. */
const dev = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
const USER_DEPS = ['@uppy/core', '@uppy/dashboard', '@uppy/golden-retriever', 'react', 'react-dom'].map((d) => `${d}@${dev[d]}`);

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repo)) as { filename: string }[];
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer-integrations', private: true, type: 'module' }));
  run('npm', ['install', join(work, packed[0].filename), ...USER_DEPS, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
  cpSync(join(consumer, 'server.mjs'), join(project, 'server.mjs'));
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

const built = new Map<string, number>();
/** Builds consumer/<name> with Vite into <project>/<name>-page (once); returns the gzip size of its scripts. */
function buildPage(name: string): number {
  if (!built.has(name)) built.set(name, viteBuild(name));
  return built.get(name)!;
}

function viteBuild(name: string): number {
  cpSync(join(consumer, name), join(project, name), { recursive: true });
  writeFileSync(
    join(project, `vite.${name}.mjs`),
    `export default { root: '${name}', base: './', worker: { format: 'es' }, build: { outDir: '../${name}-page', emptyOutDir: true } };\n`,
  );
  run(bin('vite'), ['build', '--config', `vite.${name}.mjs`, '--logLevel', 'warn'], project);
  const assets = join(project, `${name}-page/assets`);
  return execFileSync('ls', [assets], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((f) => f.endsWith('.js'))
    .reduce((n, f) => n + gzipSync(readFileSync(join(assets, f))).length, 0);
}

/** The user's server on the built page; its first line is its URL. */
async function startServer(page: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn('node', ['server.mjs', join(project, page)], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(text.split('\n')[0].trim());
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, child };
}

/**
 * Serves the built consumer page `name` from the user's server (parts of 256
 * KiB, each delayed 40 ms, so a push can be paused midway), opens it in a
 * fresh Chromium and runs `fn`; closes both whatever happens.
 */
async function inPage(name: 'uppy' | 'react', fn: (page: Page, url: string) => Promise<void>): Promise<void> {
  const { url, child } = await startServer(`${name}-page`, { PART_SIZE: String(256 << 10), PART_DELAY_MS: '40' });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => process.stderr.write(`chromium: ${e.message}\n`));
    await page.goto(`${url}/`);
    await fn(page, url);
  } finally {
    await browser.close();
    child.kill('SIGTERM');
  }
}

/** The first Uppy `upload-success` or `upload-error` the page recorded. */
const outcome = async (page: Page) =>
  (
    await page.waitForFunction(
      () => (window as unknown as { events: { type: string }[] }).events.find((e) => e.type === 'success' || e.type === 'error'),
      null,
      {
        timeout: 60_000,
      },
    )
  ).jsonValue();

const received = async (url: string) => ((await (await fetch(`${url}/received`)).json()) as { bytes: number }).bytes;

/** A file and its edited version: 256 KiB inserted at 3 MiB and 4 KiB overwritten near the end. */
function filePair(size: number, seed: number): [Buffer, Buffer] {
  const v1 = Buffer.from(randomBytes(size, seed));
  const v2 = Buffer.concat([v1.subarray(0, 3 << 20), Buffer.from(randomBytes(256 << 10, seed + 1)), v1.subarray(3 << 20)]);
  v2.set(randomBytes(4096, seed + 2), v2.length - (1 << 20));
  return [v1, v2];
}

describe('integrations from the packed package', () => {
  it('should add at most 10 kB gzip each over the browser SDK (Uppy plugin, React hooks)', async () => {
    for (const entry of ['uppy', 'react']) {
      // The integration's own code: its module bundled with the SDK, Uppy and React left outside.
      const out = await build({
        entryPoints: [join(project, `node_modules/deltaflare/dist/sdk/${entry}/index.js`)],
        bundle: true,
        minify: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        plugins: [
          {
            name: 'outside',
            setup(b) {
              b.onResolve({ filter: /^@uppy\/|^react|browser\/index\.js$|base\/options\.js$/ }, (a) => ({ path: a.path, external: true }));
            },
          },
        ],
      });
      const gzip = gzipSync(out.outputFiles[0].contents).length;
      console.log(
        `deltaflare/${entry}: ${(out.outputFiles[0].contents.length / 1000).toFixed(1)} kB minified, ${(gzip / 1000).toFixed(1)} kB gzip over deltaflare/browser`,
      );
      expect(gzip).toBeLessThanOrEqual(10_000);
    }
  });

  it('should render a component using usePush and usePull on the server without touching a Worker or IndexedDB', () => {
    const ssr = join(project, 'ssr.mjs');
    writeFileSync(
      ssr,
      `import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { usePull, usePush } from 'deltaflare/react';
function Upload() {
  const push = usePush({ endpoint: 'https://sync.example' });
  const pull = usePull({ endpoint: 'https://sync.example' });
  return createElement('p', null, push.phase + ' ' + pull.phase);
}
console.log(renderToString(createElement(Upload)), typeof Worker, typeof indexedDB);
`,
    );
    expect(run('node', [ssr], project).trim()).toBe('<p>idle idle</p> undefined undefined');
  });

  it('should upload a file and its edited version through the Uppy Dashboard, the second sending about what the CLI sends, and pause and resume', async () => {
    const gzip = buildPage('uppy');
    console.log(`consumer Uppy page: ${(gzip / 1000).toFixed(1)} kB gzip of scripts (Uppy, Dashboard, deltaflare)`);
    const [v1, v2] = filePair(12 << 20, 301);
    const files = join(work, 'uppy-files');
    for (const [dir, bytes] of [
      ['v1', v1],
      ['v2', v2],
    ] as const) {
      mkdirSync(join(files, dir), { recursive: true });
      writeFileSync(join(files, dir, 'disk.img'), bytes);
    }
    await inPage('uppy', async (page, url) => {
      const upload = async (path: string) => {
        await page.evaluate(() => {
          (window as unknown as { uppy: { clear(): void } }).uppy.clear();
          (window as unknown as { events: unknown[] }).events.length = 0;
        });
        await page.locator('.uppy-Dashboard-input').first().setInputFiles(path);
        await page.locator('.uppy-StatusBar-actionBtn--upload').click();
      };

      // First upload, paused once a few parts have landed, then resumed from the Dashboard.
      await upload(join(files, 'v1/disk.img'));
      await page.waitForFunction(() => ((window as unknown as { lastProgress?: { literalBytesSent: number } }).lastProgress?.literalBytesSent ?? 0) > 1 << 20);
      await page.locator('.uppy-StatusBar-actionBtn--pause, [aria-label="Pause"]').first().click();
      const pausedAt = await received(url);
      await new Promise((r) => setTimeout(r, 700));
      expect(await received(url)).toBeLessThan(pausedAt + (2 << 20)); // paused: at most the parts in flight still land
      await page.locator('[aria-label="Resume"]').first().click();
      const first = (await outcome(page)) as { type: string; body: { literalBytes: number; size: number }; uploadURL: string };
      expect(first.type).toBe('success');
      expect(first.body.size).toBe(v1.length);
      expect((await page.evaluate(() => (window as unknown as { lastProgress: { resumed: boolean } }).lastProgress)).resumed).toBe(true);
      const firstBytes = await received(url);
      expect(firstBytes).toBeLessThan(v1.length * 1.1); // resumed, not sent again
      expect(Buffer.from(await (await fetch(first.uploadURL)).arrayBuffer()).equals(v1)).toBe(true);
      const progress = await page.evaluate(() =>
        (window as unknown as { events: { type: string; bytesUploaded: number; bytesTotal: number }[] }).events.filter((e) => e.type === 'progress'),
      );
      expect(progress.at(-1)).toMatchObject({ bytesUploaded: v1.length, bytesTotal: v1.length });

      // The edited version under the same name (the key): only the change goes.
      await upload(join(files, 'v2/disk.img'));
      const second = (await outcome(page)) as { type: string; body: { literalBytes: number; matchedBytes: number } };
      expect(second.type).toBe('success');
      const secondBytes = (await received(url)) - firstBytes;
      expect(Buffer.from(await (await fetch(`${url}/stored/disk.img`)).arrayBuffer()).equals(v2)).toBe(true);

      // The CLI pushing the same pair to a fresh key of the same endpoint, for comparison.
      const cli = join(project, 'node_modules/.bin/deltaflare');
      const env = { XDG_STATE_HOME: join(work, 'state') };
      run(cli, ['push', join(files, 'v1/disk.img'), `${url}/sync`, '--key', 'cli.img', '--no-progress'], project, env);
      const before = await received(url);
      run(cli, ['push', join(files, 'v2/disk.img'), `${url}/sync`, '--key', 'cli.img', '--no-progress'], project, env);
      const cliBytes = (await received(url)) - before;
      console.log(`edited 12 MiB file: Uppy plugin sent ${secondBytes} bytes, the CLI ${cliBytes}`);
      expect(secondBytes).toBeLessThanOrEqual(cliBytes * 1.1);
      expect(second.body.literalBytes).toBeLessThan(v2.length / 10);
    });
  }, 180_000);

  it('should resume an upload cut by a reload when Golden Retriever restores the file, sending only what had not landed', async () => {
    buildPage('uppy');
    const bytes = Buffer.from(randomBytes(8 << 20, 351)); // Golden Retriever keeps files up to 10 MiB in IndexedDB
    const path = join(work, 'restored.bin');
    writeFileSync(path, bytes);
    await inPage('uppy', async (page, url) => {
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(path);
      await page.locator('.uppy-StatusBar-actionBtn--upload').click();
      await page.waitForFunction(() => ((window as unknown as { lastProgress?: { literalBytesSent: number } }).lastProgress?.literalBytesSent ?? 0) > 2 << 20);
      await page.reload();
      // Restored: the Dashboard offers to go on; the plugin finds the session kept for this endpoint and key.
      await page.locator('.uppy-StatusBar-actionBtn--upload').click({ timeout: 20_000 });
      const done = (await outcome(page)) as { type: string; name: string };
      expect(done).toMatchObject({ type: 'success', name: 'restored.bin' });
      expect((await page.evaluate(() => (window as unknown as { lastProgress: { resumed: boolean } }).lastProgress)).resumed).toBe(true);
      expect(await received(url)).toBeLessThan(bytes.length * 1.1);
      expect(Buffer.from(await (await fetch(`${url}/stored/restored.bin`)).arrayBuffer()).equals(bytes)).toBe(true);
    });
  }, 180_000);

  it('should retry from the Dashboard after a failure, resuming the session, and delete the session on cancel', async () => {
    buildPage('uppy');
    const bytes = Buffer.from(randomBytes(6 << 20, 371));
    const path = join(work, 'retried.bin');
    writeFileSync(path, bytes);
    await inPage('uppy', async (page, url) => {
      const events = () =>
        page.evaluate(() => (window as unknown as { events: { type: string; message?: string }[] }).events.filter((e) => e.type !== 'progress'));
      // Every commit refused by the network: the push fails after its parts landed, and Uppy shows Retry.
      await page.route('**/commit', (route) => route.abort('connectionreset'));
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(path);
      await page.locator('.uppy-StatusBar-actionBtn--upload').click();
      await page.waitForFunction(() => (window as unknown as { events: { type: string }[] }).events.some((e) => e.type === 'error'), null, { timeout: 60_000 });
      expect((await events())[0]).toMatchObject({ type: 'error' });
      const sent = await received(url);
      await page.unroute('**/commit');
      await page.locator('.uppy-StatusBar-actionBtn--retry').click();
      await page.waitForFunction(() => (window as unknown as { events: { type: string }[] }).events.some((e) => e.type === 'success'), null, {
        timeout: 60_000,
      });
      expect(await received(url)).toBeLessThan(sent + 100_000); // the retry resumed: no part sent again
      expect(Buffer.from(await (await fetch(`${url}/stored/retried.bin`)).arrayBuffer()).equals(bytes)).toBe(true);

      // Cancel: the session goes on the endpoint and from IndexedDB.
      await page.evaluate(() => (window as unknown as { uppy: { clear(): void } }).uppy.clear());
      writeFileSync(path, randomBytes(6 << 20, 372));
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(path);
      await page.locator('.uppy-StatusBar-actionBtn--upload').click();
      await page.waitForFunction(() => ((window as unknown as { lastProgress?: { literalBytesSent: number } }).lastProgress?.literalBytesSent ?? 0) > 1 << 20);
      const [session] = await page.evaluate(() => (window as unknown as { unfinished(): Promise<string[]> }).unfinished());
      expect((await fetch(`${url}/sync/v1/sessions/${encodeURIComponent(session)}`)).status).toBe(200);
      await page.locator('.uppy-StatusBar button[data-cy="cancel"]').click();
      await page.waitForFunction(async () => (await (window as unknown as { unfinished(): Promise<string[]> }).unfinished()).length === 0);
      await expect.poll(async () => (await fetch(`${url}/sync/v1/sessions/${encodeURIComponent(session)}`)).status).toBe(404);
    });
  }, 180_000);

  it('should build examples/uppy and upload through its Dashboard, served by deltaflare serve: an edit sends only the change', async () => {
    const example = join(project, 'example-uppy');
    cpSync(join(repo, 'examples/uppy'), example, { recursive: true });
    run(bin('vite'), ['build', '--outDir', 'dist', '--logLevel', 'warn'], example);
    const [v1, v2] = filePair(6 << 20, 391);
    const files = join(work, 'example-files');
    mkdirSync(join(files, 'v1'), { recursive: true });
    mkdirSync(join(files, 'v2'), { recursive: true });
    writeFileSync(join(files, 'v1/notes.db'), v1);
    writeFileSync(join(files, 'v2/notes.db'), v2);
    const server = spawn(
      join(project, 'node_modules/.bin/deltaflare'),
      ['serve', '--dir', join(work, 'example-store'), '--port', '0', '--static', join(example, 'dist')],
      {
        cwd: project,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, XDG_STATE_HOME: join(work, 'state') },
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      server.stdout!.on('data', (d) => {
        text += d;
        const m = /endpoint on (http:\/\/\S+),/.exec(text);
        if (m) resolve(m[1]);
      });
      server.once('exit', (code) => reject(new Error(`deltaflare serve exited with ${code}`)));
    });
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`chromium: ${e.message}\n`));
      await page.goto(`${url}/`);
      const results = page.locator('#results li');
      for (const [n, dir] of ['v1', 'v2'].entries()) {
        if (n > 0) await page.locator('.uppy-DashboardContent-addMore').click(); // the Dashboard's "Add more"
        await page
          .locator('.uppy-Dashboard-input')
          .first()
          .setInputFiles(join(files, dir, 'notes.db'));
        await page.locator('.uppy-StatusBar-actionBtn--upload').click();
        await results.nth(n).waitFor({ timeout: 60_000 });
      }
      const lines = await results.allTextContents();
      expect(lines[0]).toMatch(/^notes\.db: version v-\S+, 6\.3 MB sent, 0\.0 MB already there$/);
      expect(lines[1]).toMatch(/^notes\.db: version v-\S+, 0\.[0-9] MB sent, 6\.[0-9] MB already there$/);
      expect(Buffer.from(await (await fetch(`${url}/v1/files/notes.db`)).arrayBuffer()).equals(v2)).toBe(true);
    } finally {
      await browser.close();
      server.kill('SIGTERM');
    }
  }, 180_000);

  it('should upload, pause and resume a file with usePush in a React page', async () => {
    const gzip = buildPage('react');
    console.log(`consumer React page: ${(gzip / 1000).toFixed(1)} kB gzip of scripts (React, deltaflare)`);
    const bytes = Buffer.from(randomBytes(8 << 20, 401));
    const path = join(work, 'react.bin');
    writeFileSync(path, bytes);
    await inPage('react', async (page, url) => {
      await page.locator('#file').setInputFiles(path);
      await page.locator('#start').click();
      await page.waitForFunction(
        () => ((window as unknown as { pushState: { progress?: { literalBytesSent: number } } }).pushState.progress?.literalBytesSent ?? 0) > 1 << 20,
      );
      await page.locator('#pause').click();
      await page.waitForFunction(() => (window as unknown as { pushState: { phase: string } }).pushState.phase === 'aborted');
      expect(await page.locator('#start').textContent()).toBe('Resume');
      await page.locator('#start').click();
      await page.waitForSelector('#done', { timeout: 60_000 });
      const state = await page.evaluate(
        () => (window as unknown as { pushState: { phase: string; progress: { resumed: boolean }; result: { size: number } } }).pushState,
      );
      expect(state.phase).toBe('done');
      expect(state.progress.resumed).toBe(true);
      expect(state.result.size).toBe(bytes.length);
      expect(await received(url)).toBeLessThan(bytes.length * 1.1);
      expect(Buffer.from(await (await fetch(`${url}/stored/react.bin`)).arrayBuffer()).equals(bytes)).toBe(true);
    });
  }, 180_000);
});
