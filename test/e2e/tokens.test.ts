// End to end with access control: a real Node endpoint on loopback started
// with a write token; pushes through the SDK's push() (real worker pool) and
// the built CLI (child processes) without a token, with a wrong one, with the
// token (--token, DELTAFLARE_TOKEN, push({ token })) and with upload tokens
// from signUploadToken. A refused push must leave every file of the store as
// it was (data, versions, manifests, sessions); an accepted one must store the
// client's bytes exactly.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, DeltaflareError, push, signUploadToken } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve, type ServeHandle } from '../../worker/node/serve.js';
import { concat, randomBytes } from '../support/bytes.js';

const TOKEN = 'e2e-write-token-7f3a-0123456789abcdef'; // signs upload tokens: 32 characters or more
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-e2e-tokens-'));
const store = join(dir, 'store');
let server: ServeHandle;
let pool: WorkerPool<ThreadApi>;

beforeAll(async () => {
  server = await serve({ dir: store, port: 0, access: { token: TOKEN } });
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seed = 100;
/** A file of `size` fresh pseudo-random bytes, or `from` with 3 scattered 4 KiB overwrites and a 20 KB insert (a delta push). */
function version(name: string, from?: Uint8Array, size = 1 << 20): { path: string; bytes: Uint8Array } {
  let bytes: Uint8Array;
  if (from) {
    bytes = concat(from.subarray(0, 300_000), randomBytes(20_000, seed++), from.subarray(300_000));
    for (const at of [50_000, 600_000, 900_000]) bytes.set(randomBytes(4096, seed++), at);
  } else bytes = randomBytes(size, seed++);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** What the endpoint serves for `key` (reads are public: only writes need the token here). */
async function served(key: string): Promise<Buffer | null> {
  const res = await fetch(`${server.url}/v1/files/${key}`);
  if (res.status === 404) return null;
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}
const same = (got: Buffer | null, bytes: Uint8Array) => got?.equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));

/** Every file under the store (data, versions, manifests, sessions) with its size and mtime: equal snapshots = nothing written. */
function snapshot(): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p);
        lines.push(`${relative(store, p)} ${s.size} ${s.mtimeMs}`);
      }
    }
  };
  walk(store);
  return lines.sort().join('\n');
}

/** The SDK's push to this endpoint; resolves with the DeltaflareError it fails with, or its result. */
const sdkPush = (path: string, key: string, token?: string) => push(path, { endpoint: server.url, key, pool, token });
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the push was accepted');
    },
    (e: unknown) => e as DeltaflareError,
  );

/** `deltaflare push` from dist in a child process (asynchronous: the endpoint answers from this process), with no DELTAFLARE_TOKEN but `env`'s. */
function cliPush(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const e = { ...process.env, ...env };
  if (!('DELTAFLARE_TOKEN' in env)) delete e.DELTAFLARE_TOKEN;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'push', ...args, '--workers', '1', '--json'], { env: e }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('push to an endpoint with a write token', () => {
  it('should refuse a push without the token or with a wrong one (401 UNAUTHORIZED) and leave the store unchanged', async () => {
    const v1 = version('refuse-v1');
    await sdkPush(v1.path, 'refuse.bin', TOKEN);
    const v2 = version('refuse-v2', v1.bytes);
    const before = snapshot();
    expect(before).toContain('refuse.bin');

    const none = await refusal(sdkPush(v2.path, 'refuse.bin'));
    expect(none).toBeInstanceOf(DeltaflareError);
    expect(none.code).toBe('UNAUTHORIZED');
    expect(none.status).toBe(401);
    expect(none.message).toContain('this endpoint needs a token for writes');

    const wrong = await refusal(sdkPush(v2.path, 'refuse.bin', `${TOKEN}x`));
    expect(wrong.code).toBe('UNAUTHORIZED');
    expect(wrong.message).toContain("not this endpoint's token");

    const cli = await cliPush([v2.path, server.url, '--key', 'refuse.bin']);
    // --json: the failure is one JSON object on stdout, with the SDK's code.
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe('');
    const { error } = JSON.parse(cli.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('this endpoint needs a token for writes');
    expect(error.message).toContain('give --token T or set DELTAFLARE_TOKEN');

    const newKey = await refusal(sdkPush(v2.path, 'refuse-new.bin'));
    expect(newKey.code).toBe('UNAUTHORIZED');

    expect(snapshot()).toBe(before);
    expect(same(await served('refuse.bin'), v1.bytes)).toBe(true);
    expect(await served('refuse-new.bin')).toBeNull();
  });

  it('should push with the token from --token, from DELTAFLARE_TOKEN and from push({ token }), byte for byte, sending only the edits', async () => {
    const key = 'granted/disk.img';
    const v1 = version('granted-v1', undefined, 2 << 20);
    const byFlag = await cliPush([v1.path, server.url, '--key', key, '--token', TOKEN]);
    expect(byFlag.stderr).toBe('');
    expect(byFlag.code).toBe(0);
    expect(JSON.parse(byFlag.stdout).literalBytes).toBe(v1.bytes.length);
    expect(same(await served(key), v1.bytes)).toBe(true);

    const v2 = version('granted-v2', v1.bytes);
    const byEnv = await cliPush([v2.path, server.url, '--key', key], { DELTAFLARE_TOKEN: TOKEN });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    expect(JSON.parse(byEnv.stdout).literalBytes).toBeLessThan(200_000); // every write of a delta push (matches, plan, parts, commit) carried it
    expect(same(await served(key), v2.bytes)).toBe(true);

    const v3 = version('granted-v3', v2.bytes);
    const bySdk = await sdkPush(v3.path, key, TOKEN);
    expect(bySdk.literalBytes).toBeLessThan(200_000);
    expect(same(await served(key), v3.bytes)).toBe(true);
  });
});

describe('push with an upload token (signUploadToken)', () => {
  const key = 'users/7/photo.bin';

  it('should push its own key (SDK and CLI), and be refused (403 FORBIDDEN) for any other key, leaving the store unchanged', async () => {
    const token = await signUploadToken({ secret: TOKEN, key, expires: Date.now() / 1000 + 3600 });
    const v1 = version('upload-v1');
    await sdkPush(v1.path, key, token);
    expect(same(await served(key), v1.bytes)).toBe(true);
    const v2 = version('upload-v2', v1.bytes);
    const cli = await cliPush([v2.path, server.url, '--key', key], { DELTAFLARE_TOKEN: token });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).literalBytes).toBeLessThan(200_000);
    expect(same(await served(key), v2.bytes)).toBe(true);

    // Another user's key (existing or not), with the SDK and the CLI.
    await sdkPush(v1.path, 'users/8/photo.bin', TOKEN);
    const before = snapshot();
    for (const other of ['users/8/photo.bin', 'users/7/photo.bin.old', 'users/7']) {
      const e = await refusal(sdkPush(v2.path, other, token));
      expect(e.code, other).toBe('FORBIDDEN');
      expect(e.status).toBe(403);
      expect(e.message).toContain(`upload token is for key "${key}", not key "${other}"`);
    }
    const otherCli = await cliPush([v2.path, server.url, '--key', 'users/8/photo.bin', '--token', token]);
    expect(otherCli.code).toBe(1);
    expect(JSON.parse(otherCli.stdout).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining(`upload token is for key "${key}"`) });
    expect(snapshot()).toBe(before);
    expect(same(await served('users/8/photo.bin'), v1.bytes)).toBe(true);

    // An altered token (signature no longer matches) is refused too.
    const altered = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    expect((await refusal(sdkPush(v1.path, key, altered))).message).toContain('signature does not match');
    expect(same(await served(key), v2.bytes)).toBe(true);
  });

  it('should stop working at its expiry', async () => {
    // 4 s of validity: a 1 MiB push with a started pool takes ~0.1 s (under 1 s on a loaded 2-core machine); the wait below is what the test costs.
    const expires = Math.floor(Date.now() / 1000) + 4;
    const token = await signUploadToken({ secret: TOKEN, key: 'expiring.bin', expires });
    const v1 = version('expiring-v1');
    await sdkPush(v1.path, 'expiring.bin', token);
    expect(same(await served('expiring.bin'), v1.bytes)).toBe(true);

    await new Promise((r) => setTimeout(r, expires * 1000 - Date.now() + 50));
    const v2 = version('expiring-v2', v1.bytes);
    const before = snapshot();
    const e = await refusal(sdkPush(v2.path, 'expiring.bin', token));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toContain(`upload token for "expiring.bin" expired at ${new Date(expires * 1000).toISOString()}`);
    const cli = await cliPush([v2.path, server.url, '--key', 'expiring.bin', '--token', token]);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout).error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('expired at') });
    expect(snapshot()).toBe(before);
    expect(same(await served('expiring.bin'), v1.bytes)).toBe(true);
  });
});
