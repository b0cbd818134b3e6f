// End to end: the SDK's push() with a real worker pool (and the push CLI)
// against each real endpoint — the Node server on loopback (fs store in a
// temp dir) and the Worker under `wrangler dev --local` (workerd with local
// R2 and Durable Objects) — over random edit scripts; after every push the
// stored file must equal the client's byte for byte.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { createNodePool, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import { serve } from '../../worker/node/serve.js';
import { startWranglerDev } from '../support/wrangler-dev.js';
import { concat, randomBytes } from '../support/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-e2e-'));
const store = join(dir, 'store');
let pool: WorkerPool<ThreadApi>;

/** An endpoint under test and how to read back what it stored. */
interface Target {
  url: string;
  read(key: string): Promise<Buffer>;
  /** What the server printed lately, for a failing test's report. */
  output(): string;
  close(): Promise<void>;
}

/** One suite, two targets. */
const targets: Record<string, () => Promise<Target>> = {
  node: async () => {
    const s = await serve({ dir: store, port: 0 });
    return { url: s.url, read: async (key) => readFileSync(join(store, key)), output: () => '', close: () => s.close() };
  },
  workers: async () => {
    const d = await startWranglerDev({ log: !!process.env.WRANGLER_LOG });
    const read = async (key: string) => {
      const res = await fetch(`${d.url}/v1/files/${key}`);
      if (!res.ok) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
      return Buffer.from(await res.arrayBuffer());
    };
    return { url: d.url, read, output: () => d.output(), close: () => d.close() };
  },
};

/**
 * The SDK's requests of the running test, each with when it started and
 * ended (ms since the test began): a push that hangs fails the test with
 * the requests still unanswered and the server's last output, instead of
 * a bare timeout.
 */
let requests: string[] = [];
/**
 * Every push here gives up on a request unanswered for 15 s and retries it
 * (the SDK's timeoutMs; pushes here take at most a few seconds a request),
 * so one stalled request costs 15 s, not the test. Any such retry is printed
 * (see afterEach) even when the test passes.
 */
const REQUEST_TIMEOUT_MS = 15_000;
let testStart = 0;
const since = () => Math.round(performance.now() - testStart);
const tracingFetch: typeof fetch = async (input, init) => {
  // (A request unanswered for REQUEST_TIMEOUT_MS is abandoned by the SDK and retried: its line ends in the abort.)
  const log = requests; // the test's own list, even if this request outlives it
  const line = log.push(`${since()} ms ${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`) - 1;
  try {
    const res = await fetch(input, init);
    log[line] += ` -> ${res.status} at ${since()} ms`;
    return res;
  } catch (e) {
    log[line] += ` -> ${(e as Error).message} at ${since()} ms`;
    throw e;
  }
};
let server: Target;

beforeAll(async () => {
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

let seed = 1;
/** A fresh pseudo-random stream per call. */
const random = (n: number): Uint8Array => randomBytes(n, seed++);

/** Edit scripts: each takes the old file and returns the new one. */
const edits: Record<string, (old: Uint8Array) => Uint8Array> = {
  identical: (old) => old.slice(),
  insert: (old) => concat(old.subarray(0, 1_000_003), random(70_001), old.subarray(1_000_003)),
  delete: (old) => concat(old.subarray(0, 500_000), old.subarray(800_000)),
  overwrite: (old) => {
    const b = old.slice();
    for (let i = 0; i < 8; i++) b.set(random(4096), (i * 397_711) % (b.length - 4096));
    return b;
  },
  'insert aligned': (old) => concat(old.subarray(0, 1 << 20), random(65_536), old.subarray(1 << 20)),
  'delete aligned': (old) => concat(old.subarray(0, 1 << 19), old.subarray(3 << 18)),
  move: (old) => concat(old.subarray(2_000_000), old.subarray(0, 2_000_000)),
  truncate: (old) => old.slice(0, 1_234_567),
  extend: (old) => concat(old, random(333_333)),
  empty: () => new Uint8Array(0),
  'from empty': () => random(2_500_000),
};

async function pushBytes(name: string, bytes: Uint8Array, key: string, chunking?: ChunkingSpec, extra = {}) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const result = await push(path, { endpoint: server.url, key, pool, chunking, fetch: tracingFetch, timeoutMs: REQUEST_TIMEOUT_MS, ...extra });
  // Buffer.equals, not toEqual: vitest's deep equality walks 4 MiB byte by byte in seconds.
  expect((await server.read(key)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)), `${key} after ${name}`).toBe(true);
  return result;
}

describe.each(Object.keys(targets))('%s endpoint', (target) => {
  beforeAll(async () => {
    server = await targets[target]();
  });
  afterAll(async () => server?.close());
  beforeEach(() => {
    requests = [];
    testStart = performance.now();
    onTestFailed(() => {
      console.error(`[${target}] requests of the failed test (start -> answer):\n${requests.slice(-60).join('\n')}`);
      console.error(`[${target}] server output, last 8,000 characters:\n${server.output().slice(-8000)}`);
    });
  });
  afterEach(() => {
    if (!requests.some((line) => line.includes('no answer within'))) return;
    console.warn(`[${target}] a request went unanswered for ${REQUEST_TIMEOUT_MS} ms and was retried:\n${requests.join('\n')}`);
    console.warn(`[${target}] server output, last 8,000 characters:\n${server.output().slice(-8000)}`);
  });

  describe.each<[string, ChunkingSpec | undefined]>([
    ['cdc', undefined],
    ['fixed 4 KiB', { kind: 'fixed', block: 4096 }],
  ])('push (%s chunking)', (name, chunking) => {
    it('should upload everything first, then only what changed, for every edit script', async () => {
      let old = random(4 << 20);
      const key = `scripts-${name.replace(/\W/g, '')}.bin`;
      const first = await pushBytes('v0', old, key, chunking);
      expect(first.literalBytes).toBe(old.length);
      for (const [edit, apply] of Object.entries(edits)) {
        const next = apply(old);
        const r = await pushBytes(`v-${edit}`, next, key, chunking);
        expect(r.size, edit).toBe(next.length);
        if (edit === 'identical') expect(r.literalBytes, edit).toBe(0);
        // Fixed blocks match by content at block-aligned offsets only (disk images
        // change in place), so unaligned inserts and deletes are cheap only with CDC.
        const cheap = ['insert aligned', 'delete aligned', 'overwrite', 'truncate', 'extend'];
        if (!chunking) cheap.push('insert', 'delete');
        if (cheap.includes(edit)) {
          expect(r.literalBytes, edit).toBeLessThan(next.length / 4);
        }
        old = next;
      }
    });
  });

  describe('push', () => {
    it('should build a new key from another stored key as basis', async () => {
      const base = random(3 << 20);
      await pushBytes('basis', base, 'a/base.bin');
      const edited = concat(base.subarray(0, 1 << 20), random(10_000), base.subarray(1 << 20));
      const r = await pushBytes('derived', edited, 'a/derived.bin', undefined, { basis: 'a/base.bin' });
      expect(r.literalBytes).toBeLessThan(100_000);
    });

    it('should rebuild in place, including a cyclic move', async () => {
      const v0 = random(3 << 20);
      await pushBytes('ip0', v0, 'inplace.bin');
      const third = v0.length / 3;
      const rotated = concat(v0.subarray(third), v0.subarray(0, third));
      const r = await pushBytes('ip1', rotated, 'inplace.bin', undefined, { inPlace: true });
      expect(r.size).toBe(rotated.length);
    });

    it('should let exactly one of two racing pushes on one key commit', async () => {
      await pushBytes('race0', random(2 << 20), 'race.bin');
      const a = random(2 << 20),
        b = random(2 << 20);
      writeFileSync(join(dir, 'ra'), a);
      writeFileSync(join(dir, 'rb'), b);
      const results = await Promise.allSettled([
        push(join(dir, 'ra'), { endpoint: server.url, key: 'race.bin', pool, fetch: tracingFetch, timeoutMs: REQUEST_TIMEOUT_MS }),
        push(join(dir, 'rb'), { endpoint: server.url, key: 'race.bin', pool, fetch: tracingFetch, timeoutMs: REQUEST_TIMEOUT_MS }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(won.length).toBe(1);
      expect(lost.length).toBe(1);
      expect(lost[0].reason.code).toBe('VERSION_CONFLICT');
      const stored = await server.read('race.bin');
      expect(stored.equals(Buffer.from(a)) || stored.equals(Buffer.from(b))).toBe(true);
    });
  });

  describe('push (demo sizes)', () => {
    it('should push 64 MiB, then an edit (1 MiB insert, scattered overwrites) sending under 10% of it', async () => {
      const v0 = random(64 << 20);
      await pushBytes('big0', v0, 'big.bin');
      const v1 = concat(v0.subarray(0, 20 << 20), random(1 << 20), v0.subarray(20 << 20));
      for (let i = 0; i < 16; i++) v1.set(random(2000), 1_000_000 + i * 4_100_000);
      const r = await pushBytes('big1', v1, 'big.bin');
      expect(r.literalBytes).toBeLessThan(v1.length / 10);
    });

    it('should push 256 MiB, then 8 MiB inserted in the middle, with no request refused or retried', async () => {
      const v0 = random(256 << 20);
      await pushBytes('huge0', v0, 'huge.bin');
      const v1 = concat(v0.subarray(0, 128 << 20), random(8 << 20), v0.subarray(128 << 20));
      requests = [];
      const r = await pushBytes('huge1', v1, 'huge.bin');
      expect(r.literalBytes).toBeLessThan(9 << 20);
      // Every request of the delta push answered, none with a 5xx or a cut connection (either makes the SDK retry):
      // on Workers the part PUTs right after the plan used to get 503 while the key's object uploaded parts behind them.
      const failed = requests.filter((line) => !/ -> [234]\d\d at /.test(line));
      expect(failed).toEqual([]);
    }, 240_000);

    it('should push with the CLI', async () => {
      const data = random(3 << 20);
      const path = join(dir, 'cli.bin');
      writeFileSync(path, data);
      const cli = new URL('../../dist/cli/main.js', import.meta.url).pathname;
      const stdout = await new Promise<string>((res, rej) =>
        execFile(
          process.execPath,
          [cli, 'push', path, server.url, '--key', 'cli/one.bin', '--json', '--timeout', String(REQUEST_TIMEOUT_MS / 1000)],
          (e, out, err) => (e ? rej(new Error(`${e.message}\n${err}`)) : res(out)),
        ),
      );
      expect(JSON.parse(stdout).size).toBe(data.length);
      expect((await server.read('cli/one.bin')).equals(Buffer.from(data))).toBe(true);
    });
  });
});
