// `deltaflare serve --token` and `deltaflare push --token` as a user runs
// them: the built CLI in child processes, a real server on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from '../support/bytes.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-cli-auth-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** Environment without an inherited DELTAFLARE_TOKEN, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  if (!('DELTAFLARE_TOKEN' in extra)) delete e.DELTAFLARE_TOKEN;
  return e;
}

/** Starts `deltaflare serve` on a free port; resolves with its URL and everything it printed so far. */
function startServer(args: string[], extraEnv: Record<string, string> = {}): Promise<{ url: string; output: () => string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--dir', join(dir, `store-${children.length}`), '--port', '0', '--no-demo', ...args], {
    env: env(extraEnv),
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /endpoint on (http:\/\/\S+),/.exec(out);
      if (m) {
        clearTimeout(timer);
        // The lines after the URL are printed in the same tick; give them one more turn.
        setTimeout(() => resolve({ url: m[1], output: () => out, child }), 100);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}:\n${out}`)));
  });
}

function push(args: string[], extraEnv: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, 'push', ...args], { encoding: 'utf8', env: env(extraEnv) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const bytes = randomBytes;

describe('deltaflare serve --token / push --token', () => {
  it('should push with the token, and fail without it or with a wrong one, with a clear message and exit 1', async () => {
    const { url, output } = await startServer(['--token', 'tok-123']);
    expect(output()).toContain('writes need the token; reads are public');
    const file = join(dir, 'a.bin');
    writeFileSync(file, bytes(300_000, 1));

    const none = push([file, url, '--key', 'a.bin']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/UNAUTHORIZED|needs a token/);
    expect(none.stderr).toContain('give --token T or set DELTAFLARE_TOKEN');

    const wrong = push([file, url, '--key', 'a.bin', '--token', 'tok-124']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('was refused');

    const ok = push([file, url, '--key', 'a.bin', '--token', 'tok-123', '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).key).toBe('a.bin');
    const got = new Uint8Array(await (await fetch(`${url}/v1/files/a.bin`)).arrayBuffer());
    expect(Buffer.from(got).equals(readFileSync(file))).toBe(true);

    // The same token from the environment.
    writeFileSync(file, bytes(300_000, 2));
    const fromEnv = push([file, url, '--key', 'a.bin'], { DELTAFLARE_TOKEN: 'tok-123' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
  }, 60_000);

  it('should take the server token from DELTAFLARE_TOKEN and protect reads with --protect-reads', async () => {
    const { url, output } = await startServer(['--protect-reads'], { DELTAFLARE_TOKEN: 'env-tok' });
    expect(output()).toContain('reads too');
    const file = join(dir, 'b.bin');
    writeFileSync(file, bytes(50_000, 3));
    expect(push([file, url, '--token', 'env-tok']).code).toBe(0);
    expect((await fetch(`${url}/v1/files/b.bin`)).status).toBe(401);
    expect((await fetch(`${url}/v1/files/b.bin`, { headers: { authorization: 'Bearer env-tok' } })).status).toBe(200);
  }, 60_000);

  it('should warn when serving beyond loopback without a token, and not with one', async () => {
    const open = await startServer(['--host', '0.0.0.0']);
    expect(open.output()).toMatch(/warning: serving on 0\.0\.0\.0 without a token/);
    const closed = await startServer(['--host', '0.0.0.0', '--token', 't']);
    expect(closed.output()).not.toContain('warning');
    const local = await startServer([]);
    expect(local.output()).not.toContain('warning');
    expect(local.output()).toContain('no token: writes are open');
  }, 60_000);

  it('should allow the --cors origins only (the demo dev server too only when named), and refuse a bad --cors', async () => {
    const { url } = await startServer(['--cors', 'https://app.example']);
    const preflight = (origin: string) =>
      fetch(`${url}/v1/sessions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const res = await preflight('https://app.example');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    for (const origin of ['http://localhost:5173', 'https://other.example'])
      expect((await preflight(origin)).headers.get('access-control-allow-origin')).toBeNull();
    const dev = await startServer(['--cors', 'http://localhost:5173']);
    const res2 = await fetch(`${dev.url}/v1/sessions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(res2.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const other = await fetch(`${url}/v1/info`, { headers: { origin: 'https://other.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const bad = spawnSync(process.execPath, [CLI, 'serve', '--cors', 'https://app.example/path'], { encoding: 'utf8', env: env() });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--cors https://app.example/path');
  }, 60_000);
});
