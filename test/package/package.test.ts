// The package as a user gets it: `npm pack` of the built tree, installed into
// an empty project outside the repo, and used only through its exports
// (the project cannot reach the repo's sources). Checks the tarball's
// contents and metadata (publint, attw), then (a) a plain `node` program
// embedding the endpoint under a prefix and pushing to it, (b) a Vite page
// uploading from Chromium to an endpoint mounted under a prefix, (c) the
// Cloudflare template bundled by `wrangler deploy --dry-run`. Tools (vite,
// wrangler, publint, attw) are the repo's own devDependencies.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../support/bytes.js';
import { launchChromium } from '../support/chromium.js';

const repo = join(import.meta.dirname, '../..');
const bin = (tool: string) => join(repo, 'node_modules/.bin', tool);
const consumer = join(import.meta.dirname, 'consumer');
const work = mkdtempSync(join(tmpdir(), 'deltaflare-package-'));
const project = join(work, 'project');
let tarball: string;

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });

beforeAll(() => {
  // --ignore-scripts: `npm test` built dist/ already (prepare would build it again).
  const packed = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repo)) as { filename: string }[];
  tarball = join(work, packed[0].filename);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // Its dependencies (hono, @hono/node-server, comlink) and what the README's examples import beside it (Uppy,
  // React and its types, at the repo's versions) come from npm's cache when `npm ci` filled it.
  const dev = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).devDependencies as Record<string, string>;
  const beside = ['@uppy/core', '@uppy/dashboard', '@uppy/golden-retriever', 'react', '@types/react'].map((d) => `${d}@${dev[d]}`);
  run('npm', ['install', tarball, ...beside, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], project);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('should pack only what users run, with its metadata, and pass publint and attw', () => {
    const files = run('tar', ['-tzf', tarball], work).trim().split('\n');
    const outside = files.filter(
      (f) =>
        !/^package\/(dist\/(core|sdk|worker|cli|build|demo)\/|docs\/[a-z-]+\.md$|examples\/(cloudflare|uppy)\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(
          f,
        ),
    );
    expect(outside).toEqual([]);
    // Every file the README links is in the package, so its links work from node_modules.
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    for (const [, link] of readme.matchAll(/\]\(((?:docs|examples)\/[^)#\s]+)/g)) {
      const path = link.replace(/\/$/, '');
      expect(
        files.some((f) => f === `package/${path}` || f.startsWith(`package/${path}/`)),
        link,
      ).toBe(true);
    }
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.tgz'))).toEqual([]);
    for (const f of [
      'dist/build/kernels.wasm',
      'dist/build/kernels-scalar.wasm',
      'dist/worker/cloudflare/index.js',
      'dist/worker/node/index.js',
      'dist/demo/index.html',
    ]) {
      expect(files, f).toContain(`package/${f}`);
    }
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/deltaflare/package.json'), 'utf8'));
    expect(manifest.private).toBeUndefined();
    for (const field of ['repository', 'homepage', 'bugs', 'keywords', 'types', 'sideEffects', 'license']) expect(manifest[field], field).toBeDefined();
    expect(run(bin('publint'), [tarball], work)).toContain('All good');
    // ESM only, by choice (docs: README "Install"): CommonJS resolutions are not checked.
    run(bin('attw'), [tarball, '--profile', 'esm-only'], work);
  });

  it('should compile every TypeScript (and TSX) example of the README against the installed package', () => {
    const dir = join(project, 'readme');
    mkdirSync(dir);
    // Names the snippets use without defining them, as a reader's surrounding code would.
    const preamble = 'declare const signal: AbortSignal, bytes: Uint8Array, ends: Uint32Array, a: Uint8Array, b: Uint8Array, piece: Uint8Array;\nexport {};\n';
    const blocks = [...readFileSync(join(repo, 'README.md'), 'utf8').matchAll(/```(tsx?)\n([\s\S]*?)```/g)].map((m) => ({ ext: m[1], code: m[2] }));
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    expect(blocks.some((b) => b.ext === 'tsx')).toBe(true);
    for (const [i, { ext, code }] of blocks.entries()) writeFileSync(join(dir, `example-${i + 1}.${ext}`), preamble + code);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          jsx: 'react-jsx',
          lib: ['es2022', 'dom', 'dom.iterable'],
          typeRoots: [join(repo, 'node_modules/@types')],
          types: ['node'],
        },
        include: ['*.ts', '*.tsx'],
      }),
    );
    const out = (() => {
      try {
        return run(bin('tsc'), ['-p', dir], dir);
      } catch (e) {
        return String((e as { stdout?: string }).stdout ?? e);
      }
    })();
    expect(out.trim()).toBe('');
  }, 120_000);

  it('should push with plain node to the endpoint embedded under a prefix, in a Hono app and under Node http', () => {
    cpSync(join(consumer, 'push.mjs'), join(project, 'push.mjs'));
    const out = JSON.parse(run('node', ['push.mjs'], project).trim().split('\n').pop()!) as Record<
      string,
      { first: number; second: number; size: number; same: boolean; root: number }
    > & { misspelt: unknown };
    for (const name of ['hono', 'http']) {
      const r = out[name];
      expect(r.same, name).toBe(true);
      expect(r.first, name).toBe(3 << 20); // a first upload sends every byte
      expect(r.second, name).toBeLessThan(r.size / 10); // the edit: 64 KiB inserted, plus the chunks around it
    }
    expect(out.hono.root).toBe(200); // the host app's own route is still its own
    expect(out.misspelt).toContain('unknown option "token" (did you mean access: { token }?)');
  }, 120_000);

  it('should share one hono with the app it is mounted in, and run with the oldest hono of its peer range', () => {
    // A peer: the consumer's hono is the package's, never a second copy under node_modules/deltaflare.
    expect(() => readdirSync(join(project, 'node_modules/deltaflare/node_modules/hono'))).toThrow();
    const range = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).peerDependencies.hono as string;
    const oldest = /^\^(\d+\.\d+\.\d+)$/.exec(range)?.[1];
    expect(oldest, `peerDependencies.hono ${range}`).toBeDefined();
    const old = join(work, 'oldest-hono');
    mkdirSync(old);
    writeFileSync(join(old, 'package.json'), JSON.stringify({ name: 'consumer-oldest-hono', private: true, type: 'module' }));
    run('npm', ['install', tarball, `hono@${oldest}`, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], old);
    expect(JSON.parse(readFileSync(join(old, 'node_modules/hono/package.json'), 'utf8')).version).toBe(oldest);
    cpSync(join(consumer, 'push.mjs'), join(old, 'push.mjs'));
    const out = JSON.parse(run('node', ['push.mjs'], old).trim().split('\n').pop()!) as Record<string, { second: number; size: number; same: boolean }>;
    for (const name of ['hono', 'http']) {
      expect(out[name].same, name).toBe(true);
      expect(out[name].second, name).toBeLessThan(out[name].size / 10);
    }
  }, 180_000);

  it('should build a Vite page that uploads from Chromium to an endpoint mounted under a prefix', async () => {
    const site = join(project, 'site');
    mkdirSync(site);
    for (const f of ['index.html', 'main.js', 'server.mjs']) cpSync(join(consumer, f), join(project, f === 'server.mjs' ? f : `site/${f}`));
    // The consumer's own Vite build: `deltaflare/browser` resolved from node_modules, workers as ES modules.
    writeFileSync(
      join(project, 'vite.config.mjs'),
      "export default { root: 'site', base: './', worker: { format: 'es' }, build: { outDir: '../page', emptyOutDir: true } };\n",
    );
    run(bin('vite'), ['build', '--config', 'vite.config.mjs', '--logLevel', 'warn'], project);
    const assets = join(project, 'page/assets');
    const sizes = readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .map((f) => ({ f, raw: readFileSync(join(assets, f)).length, gzip: gzipSync(readFileSync(join(assets, f))).length }));
    console.log(`consumer bundle: ${sizes.map((s) => `${s.f} ${(s.raw / 1000).toFixed(1)} kB (${(s.gzip / 1000).toFixed(1)} kB gzip)`).join(', ')}`);
    // The kernels' two builds (base64, ~61 kB together) are in the page's chunk only, not in the worker's.
    const withKernels = sizes.filter((s) => readFileSync(join(assets, s.f), 'utf8').includes('AGFzbQ')); // base64 of "\0asm"
    expect(withKernels.map((s) => s.f)).toHaveLength(1);
    expect(sizes.length).toBeGreaterThanOrEqual(2); // the page and its pool worker

    const server = spawn('node', ['server.mjs', join(project, 'page')], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] });
    const browser = await launchChromium();
    try {
      const url = await firstLine(server);
      const page = await browser.context.newPage();
      await page.goto(`${url}/`);
      await page.waitForFunction(() => 'upload' in window);
      const data = randomBytes(6 << 20, 77);
      const file = join(work, 'picked.bin');
      writeFileSync(file, data);
      await page.setInputFiles('#file', file);
      const got = await page.evaluate(`window.upload(${JSON.stringify(`${url}/sync`)}, 'picked.bin')`);
      expect(got).toMatchObject({ result: { key: 'picked.bin', size: data.length } });
      const stored = new Uint8Array(await (await fetch(`${url}/stored/picked.bin`)).arrayBuffer());
      expect(Buffer.from(stored).equals(Buffer.from(data))).toBe(true);
    } finally {
      await browser.close();
      server.kill('SIGTERM');
    }
  }, 120_000);

  it('should bundle the Cloudflare template with wrangler deploy --dry-run, kernels as .wasm modules from the package', () => {
    const worker = join(project, 'worker');
    cpSync(join(repo, 'examples/cloudflare/src'), join(worker, 'src'), { recursive: true });
    cpSync(join(repo, 'examples/cloudflare/wrangler.toml'), join(worker, 'wrangler.toml'));
    const out = join(worker, 'out');
    const log = run(bin('wrangler'), ['deploy', '--dry-run', '--outdir', out], worker);
    expect(log).toContain('--dry-run: exiting now.');
    const emitted = readdirSync(out);
    expect(emitted.filter((f) => f.endsWith('.wasm'))).toHaveLength(2);
    const bundle = readFileSync(join(out, 'index.js'), 'utf8');
    expect(bundle).toMatch(/KeyObject\d* = class extends DurableObject/);
    expect(bundle).toMatch(/KeyObject\d* = class extends KeyObject\d*/); // the template's subclass, whose onCommit feeds the queue
    expect(bundle).not.toContain('AGFzbQ'); // no base64 kernels: Workers cannot compile wasm from bytes
  }, 120_000);
});

/** The first line a child prints on stdout. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl).trim());
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before printing its URL`)));
  });
}
