// Starts the Worker with `wrangler dev --local` (workerd, local R2 and
// Durable Objects, offline) for Node-side tests: the end-to-end push suite
// and the benchmark run against it as against the Node server.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** A running `wrangler dev`. */
export interface WranglerDev {
  /** e.g. "http://127.0.0.1:43125" */
  url: string;
  /** The wrangler process (its workerd runs in the same process group). */
  process: ChildProcess;
  /** The last 20,000 characters wrangler and workerd printed (for a failing test's report). */
  output(): string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.once('error', rej);
  });
}

/**
 * The project's wrangler.toml without its [build] table, `main` made
 * absolute, written into `dir`. Under that [build], `wrangler dev` runs
 * `npm run build:wasm` at start and again once its file watcher is ready
 * (wrangler 4.86), and serves the second bundle by restarting workerd: a
 * restart that, under load, came during a test's push, and a rebuild that
 * rewrote build/*.wasm while another test's `wrangler dev` was bundling
 * them. Tests build the kernels once, before any test runs.
 */
function configWithoutBuild(root: string, dir: string): string {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8')
    .replace(/^\[build\]\n(?:(?!\[).*\n)*/m, '')
    .replace(/^main = "(.*)"$/m, (_, main: string) => `main = ${JSON.stringify(resolve(root, main))}`);
  if (/^\[build\]/m.test(toml) || !toml.includes(`main = "${resolve(root)}`)) throw new Error('wrangler.toml: [build] or main not as expected');
  const path = join(dir, 'wrangler.toml');
  writeFileSync(path, toml);
  return path;
}

/**
 * Starts `wrangler dev --local` on a free port with state in a temp folder
 * (removed on close); resolves once `/v1/info` answers. `npm run build:wasm`
 * must have run (the Worker imports build/*.wasm; this dev server does not
 * build them). `root` is the project folder to serve (default this checkout); `vars` are set as the Worker's variables; `onOutput` sees everything printed.
 * @example const dev = await startWranglerDev(); await fetch(dev.url + '/v1/info'); await dev.close();
 */
export async function startWranglerDev(
  opts: { timeoutMs?: number; log?: boolean; root?: string; vars?: Record<string, string>; onOutput?: (text: string) => void } = {},
): Promise<WranglerDev> {
  const root = opts.root ?? resolve(import.meta.dirname, '../..');
  const state = mkdtempSync(join(tmpdir(), 'deltaflare-wrangler-'));
  const port = await freePort();
  const args = [
    'dev',
    '--config',
    configWithoutBuild(root, state),
    '--local',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(await freePort()),
    '--persist-to',
    state,
    '--show-interactive-dev-session=false',
    ...Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
  ];
  // Its own process group, so close() stops wrangler and the workerd it started, and nothing else.
  const child = spawn(join(root, 'node_modules/.bin/wrangler'), args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' },
  });
  let output = '';
  // A reload restarts workerd under running requests (and its Durable Objects): no test here should see one.
  let reloaded = false;
  const collect = (b: Buffer) => {
    output = (output + b.toString()).slice(-20_000);
    opts.onOutput?.(b.toString());
    reloaded ||= /Reloading local server|restarting build/.test(output.slice(-b.length - 40));
    if (opts.log) process.stderr.write(b);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {}
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }
    rmSync(state, { recursive: true, force: true });
    if (reloaded) throw new Error(`wrangler dev reloaded the Worker while serving:\n${output.slice(-4000)}`);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(`${url}/v1/info`)).ok) return { url, process: child, output: () => output, close };
    } catch {}
    if (Date.now() > deadline) {
      await close();
      throw new Error(`wrangler dev did not answer within ${opts.timeoutMs ?? 60_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
