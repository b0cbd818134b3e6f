// Fault injection on a whole server: `deltaflare serve` is SIGKILLed at a
// random moment while `deltaflare push` processes send new versions of
// several keys (signatures, parts, commit: wherever the kill lands), then
// restarted on the same folder. Every key must then read exactly its old or
// its new version (an in-place push may instead leave the key INCOMPLETE,
// as the protocol says, never torn bytes), and a new push to every key must
// work. The delays come from a seeded generator and are printed, so a failing
// round can be replayed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concat } from '../support/bytes.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-kill-'));
const store = join(dir, 'store');
let server: ChildProcess | undefined;
afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const env = () => {
  const e = { ...process.env };
  delete e.DELTAFLARE_TOKEN;
  return e;
};

/** Starts `deltaflare serve` on the store folder; resolves with its URL. */
function startServer(): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', '--dir', store, '--port', '0', '--no-demo'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /endpoint on (http:\/\/\S+),/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code} ${signal}):\n${out}`));
    });
  });
}

async function killServer(): Promise<void> {
  const child = server!;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners('exit'); // the start's listener, which would report the exit as a failed start
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** `deltaflare push`; resolves with its exit code (1 when the server died under it). */
function push(file: string, url: string, key: string, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'push', file, url, '--key', key, '--workers', '1', ...extra], {
    env: env(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

/** xorshift32: the same stream for the same seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomBytes(n: number, next: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = (next() * 2 ** 32) >>> 0;
    b[i] = v;
    b[i + 1] = v >>> 8;
    b[i + 2] = v >>> 16;
    b[i + 3] = v >>> 24;
  }
  return b;
}

/** A new version of `old`: a few spans replaced, one inserted, one removed. */
function edit(old: Uint8Array, next: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < 4; i++) {
    const start = Math.min(old.length, at + Math.floor(next() * (old.length / 4)));
    parts.push(old.subarray(at, start));
    const kind = i % 3;
    if (kind === 0) parts.push(randomBytes(4096 + Math.floor(next() * 60_000), next)); // inserted
    if (kind === 1)
      at = Math.min(old.length, start + Math.floor(next() * 50_000)); // removed
    else at = start;
    if (kind === 2) {
      parts.push(randomBytes(30_000, next)); // replaced
      at = Math.min(old.length, start + 30_000);
    }
  }
  parts.push(old.subarray(at));
  return concat(...parts);
}

const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function read(url: string, key: string): Promise<{ status: number; code: string | null; sha: string; size: number }> {
  const res = await fetch(`${url}/v1/files/${key}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, code: res.headers.get('x-deltaflare-error'), sha: digest(bytes), size: bytes.length };
}

interface Key {
  name: string;
  inPlace: boolean;
  /** The committed version, or null while an in-place push left the key INCOMPLETE. */
  current: Uint8Array | null;
}

describe('deltaflare serve killed mid-push', () => {
  it('should read every key as exactly its old or new version after a SIGKILL at random points', async () => {
    const seed = Number(process.env.KILL_SEED ?? 20260422);
    const next = rng(seed);
    const keys: Key[] = [
      { name: 'a.img', inPlace: false, current: null },
      { name: 'dir/b.img', inPlace: false, current: null },
      { name: 'c.img', inPlace: false, current: null },
      { name: 'inplace.img', inPlace: true, current: null },
    ];

    // Round 0: the first versions, pushed without interference; its duration scales the kill delays.
    let url = await startServer();
    let t0 = performance.now();
    await Promise.all(
      keys.map(async (k, i) => {
        const data = randomBytes((3 << 20) + i * 100_003, next);
        const file = join(dir, `v0-${i}`);
        writeFileSync(file, data);
        const r = await push(file, url, k.name);
        expect(r.code, r.stderr).toBe(0);
        k.current = data;
      }),
    );
    let span = performance.now() - t0;

    const outcomes = { old: 0, new: 0, incomplete: 0, newButPushFailed: 0 }; // the last: committed, answer lost to the kill
    const rounds = 12;
    for (let round = 1; round <= rounds; round++) {
      const versions = keys.map((k, i) => {
        const data = k.current ? edit(k.current, next) : randomBytes(3 << 20, next);
        const file = join(dir, `r${round}-${i}`);
        writeFileSync(file, data);
        return { data, file };
      });
      // Each push starts at its own offset, so the kill finds the keys in different phases
      // (process start, signatures, parts, commit, done).
      const starts = keys.map(() => Math.floor(next() * span * 0.5));
      const delay = Math.floor(span * (0.3 + 0.8 * next()));
      t0 = performance.now();
      const pushes = keys.map(async (k, i) => {
        await new Promise((r) => setTimeout(r, starts[i]));
        return push(versions[i].file, url, k.name, k.inPlace && k.current ? ['--in-place'] : []);
      });
      await new Promise((r) => setTimeout(r, delay));
      await killServer();
      const codes = (await Promise.all(pushes)).map((r) => r.code);
      console.log(
        `round ${round} (seed ${seed}): pushes started at ${starts.join(',')} ms, killed after ${delay} ms (${(performance.now() - t0).toFixed(0)} ms until every push ended), push exits ${codes.join(',')}`,
      );

      // Steer later kills into the pushes: earlier when all had finished, later when none had.
      if (codes.every((c) => c === 0)) span *= 0.8;
      else if (codes.every((c) => c !== 0)) span *= 1.25;

      url = await startServer();
      for (const [i, k] of keys.entries()) {
        const got = await read(url, k.name);
        const nu = versions[i].data;
        const label = `round ${round} key ${k.name} (killed after ${delay} ms, seed ${seed})`;
        if (got.status === 409 && got.code === 'INCOMPLETE') {
          expect(k.inPlace, `${label}: INCOMPLETE on a key pushed without --in-place`).toBe(true);
          outcomes.incomplete++;
          k.current = null;
          continue;
        }
        expect(got.status, label).toBe(200);
        if (got.sha === digest(nu)) {
          outcomes.new++;
          if (codes[i] !== 0) outcomes.newButPushFailed++;
          k.current = nu;
        } else {
          expect(k.current, `${label}: neither version (size ${got.size})`).not.toBeNull();
          expect(got.sha, `${label}: neither the old (${k.current!.length} B) nor the new (${nu.length} B) version, got ${got.size} B`).toBe(
            digest(k.current!),
          );
          expect(codes[i], `${label}: the push exited 0 but the old version is served`).not.toBe(0);
          outcomes.old++;
        }
        // A push that reported success must be what is served.
        if (codes[i] === 0) expect(got.sha, label).toBe(digest(nu));
      }
    }
    console.log(`outcomes over ${rounds} rounds x ${keys.length} keys: ${JSON.stringify(outcomes)}`);

    // After the last restart every key takes a new push (no lock or staging left behind).
    for (const [i, k] of keys.entries()) {
      const data = k.current ? edit(k.current, next) : randomBytes(1 << 20, next);
      const file = join(dir, `final-${i}`);
      writeFileSync(file, data);
      const r = await push(file, url, k.name); // an INCOMPLETE key is pushed whole (no basis)
      expect(r.code, r.stderr).toBe(0);
      expect((await read(url, k.name)).sha).toBe(digest(data));
      expect(readFileSync(file).length).toBe(data.length);
    }
  }, 240_000);
});
