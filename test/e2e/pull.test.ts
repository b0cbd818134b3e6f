// End to end: pull() and `deltaflare pull` against each real endpoint — the
// Node server on loopback and the Worker under `wrangler dev --local` — after
// another client pushed a new version: only the chunks the local copy lacks
// are fetched (multi-range GETs), the result equals the pushed bytes, and a
// bad answer, a local copy edited meanwhile or a cut pull never leaves a mix
// of versions in the file.
import { decodeMetadataHeader, METADATA_HEADER } from '../../core/protocol/metadata.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../core/base/errors.js';
import { init } from '../../core/kernels/index.js';
import { digestBlocks, parseBlockQuery } from '../../core/protocol/block-digests.js';
import { createNodePool, PULL_SUFFIX, type PullProgress, pull, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve } from '../../worker/node/serve.js';
import { concat, randomBytes } from '../support/bytes.js';
import { startWranglerDev } from '../support/wrangler-dev.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-pull-'));
let pool: WorkerPool<ThreadApi>;
let seed = 100;
const random = (n: number) => randomBytes(n, seed++);
const file = (name: string, bytes?: Uint8Array) => {
  const path = join(dir, name);
  if (bytes) writeFileSync(path, bytes);
  return path;
};
const runAsync = promisify(execFile);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

const targets: Record<string, () => Promise<{ url: string; close(): Promise<void> }>> = {
  node: async () => serve({ dir: join(dir, 'store'), port: 0 }),
  workers: async () => startWranglerDev({ log: !!process.env.WRANGLER_LOG }),
};

beforeAll(async () => {
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

/** A fetch that counts the ranged GETs and the bytes of their answers, and can damage or hold answers. */
function watched(opts: { damage?: boolean; stopAfter?: number } = {}) {
  const seen = { gets: 0, ranges: 0, bytes: 0 };
  const f: typeof fetch = async (input, init) => {
    const range = new Headers(init?.headers).get('range');
    if (range) {
      seen.gets++;
      seen.ranges += range.split(',').length;
      if (opts.stopAfter !== undefined && seen.gets > opts.stopAfter) throw new DeltaflareError('ABORTED', 'cut by the test');
    }
    const res = await fetch(input, init);
    if (!range) return res;
    const body = new Uint8Array(await res.arrayBuffer());
    seen.bytes += body.length;
    if (opts.damage) body[body.length >> 1] ^= 0xff; // in the middle of the data: a chunk's bytes, not the framing
    return new Response(body, { status: res.status, headers: res.headers });
  };
  return { seen, fetch: f };
}

for (const [name, start] of Object.entries(targets)) {
  describe(`pull from ${name}`, () => {
    let url: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ url, close } = await start());
    }, 120_000);
    afterAll(async () => close?.());

    /** Pushes `bytes` to `key` as another client would. */
    const publish = async (key: string, bytes: Uint8Array, chunking?: { kind: 'fixed'; block: number }) => {
      await push(file(`pushed-${key}`, bytes), { endpoint: url, key, pool, chunking });
    };

    it("should hand back a push's metadata: in push's result, HEAD's header and pull's result, and from the CLI's --meta", async () => {
      const metadata = { owner: 'ana', title: 'Été ✓' };
      const bytes = random(200_000);
      const pushed = await push(file('meta-pushed.bin', bytes), { endpoint: url, key: 'meta.bin', pool, metadata });
      expect(pushed.metadata).toEqual(metadata);
      const head = await fetch(`${url}/v1/files/meta.bin`, { method: 'HEAD' });
      expect(decodeMetadataHeader(head.headers.get(METADATA_HEADER))).toEqual(metadata);
      const r = await pull(file(`${name}-meta.bin`), { endpoint: url, key: 'meta.bin', pool });
      expect(r.metadata).toEqual(metadata);
      // Async: the Node endpoint runs in this process, so a synchronous child would wait on a server that cannot answer.
      const { stdout: out } = await runAsync(process.execPath, [
        CLI,
        'push',
        file('meta-cli.bin', bytes),
        url,
        '--key',
        'meta.bin',
        '--meta',
        'owner=bo',
        '--meta',
        'n=a=b',
        '--no-resume',
        '--json',
      ]);
      expect(JSON.parse(out).metadata).toEqual({ owner: 'bo', n: 'a=b' });
      await expect(push(file('meta-bad.bin', bytes), { endpoint: url, key: 'meta.bin', pool, metadata: { 'a b': 'x' } })).rejects.toThrow(
        /sync metadata: name "a b" is not 1..64/,
      );
    });

    it('should fetch only an insert, in few requests, and match the pushed bytes', async () => {
      const v1 = random(6 << 20);
      const v2 = concat(v1.subarray(0, 3 << 20), random(256 << 10), v1.subarray(3 << 20));
      await publish('insert.bin', v2);
      const local = file(`${name}-insert.bin`, v1);
      const w = watched();
      const reports: PullProgress[] = [];
      const r = await pull(local, { endpoint: url, key: 'insert.bin', pool, fetch: w.fetch, onProgress: (p) => reports.push(p) });
      expect(same(readFileSync(local), v2)).toBe(true);
      // Every report carries a rate and an ETA: the last one at the end of the version, nothing left.
      expect(reports.every((p) => Number.isFinite(p.rate) && Number.isFinite(p.eta) && p.eta >= 0)).toBe(true);
      expect(reports.at(-1)).toMatchObject({ phase: 'done', foundBytes: r.copiedBytes, fetchedBytes: r.fetchedBytes, eta: 0 });
      expect(reports.at(-1)!.rate).toBeGreaterThan(0);
      expect(r.fetchedBytes).toBeLessThan((256 << 10) + 200_000); // the insert and the chunks around it
      expect(r.copiedBytes + r.fetchedBytes).toBe(v2.length);
      // Found chunks written by the workers that hashed them: only those next to a segment's resynchronisation are read again.
      expect(r.placedBytes).toBeGreaterThan(0.95 * r.copiedBytes);
      expect(w.seen.gets).toBeLessThanOrEqual(2);
      expect(existsSync(local + PULL_SUFFIX)).toBe(false);
    });

    it('should receive the fetched chunks of a compressible version deflated, and match the pushed bytes', async () => {
      const lines = (n: number, salt: number) => new TextEncoder().encode(Array.from({ length: n }, (_, i) => `row ${i},${(i * salt) % 1009},ok\n`).join(''));
      const v1 = lines(200_000, 7);
      const v2 = concat(v1.subarray(0, 1 << 20), lines(60_000, 13), v1.subarray(1 << 20));
      await publish('rows.csv', v2);
      const local = file(`${name}-rows.csv`, v1);
      const w = watched();
      const r = await pull(local, { endpoint: url, key: 'rows.csv', pool, fetch: w.fetch });
      expect(same(readFileSync(local), v2)).toBe(true);
      expect(r.fetchedBytes).toBeGreaterThan(800_000);
      expect(w.seen.bytes).toBeLessThan(r.fetchedBytes / 3); // the ranged answers' bodies as received (~3.6x smaller)
    });

    it('should fetch scattered overwrites of a version pushed with fixed blocks, and download into a missing file', async () => {
      const v1 = random(4 << 20);
      const v2 = v1.slice();
      for (let i = 0; i < 16; i++) v2.set(random(4096), ((i * 257) % 1024) * 4096);
      await publish('blocks.bin', v2, { kind: 'fixed', block: 4096 });
      const local = file(`${name}-blocks.bin`, v1);
      const w = watched();
      const r = await pull(local, { endpoint: url, key: 'blocks.bin', pool, fetch: w.fetch });
      expect(same(readFileSync(local), v2)).toBe(true);
      expect(r.fetchedBytes).toBe(16 * 4096); // exactly the overwritten blocks
      expect(w.seen.gets).toBe(1); // 16 ranges in one multi-range GET
      expect(w.seen.ranges).toBe(16);

      // A block size the endpoint could never take: refused before anything is asked.
      await expect(pull(local, { endpoint: url, key: 'blocks.bin', pool, blockSize: 1000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      // A version asked for that the key is no longer at: refused before anything is written.
      await expect(pull(file(`${name}-pinned.bin`), { endpoint: url, key: 'blocks.bin', pool, version: 'v-not-this-one' })).rejects.toMatchObject({
        code: 'VERSION_CONFLICT',
      });
      expect(existsSync(file(`${name}-pinned.bin`) + PULL_SUFFIX)).toBe(false);
      expect((await pull(local, { endpoint: url, key: 'blocks.bin', pool, version: r.version })).fetchedBytes).toBe(0);

      const fresh = file(`${name}-fresh.bin`);
      const d = await pull({ path: fresh, endpoint: url, key: 'blocks.bin', pool }); // the path with the options: the same pull
      expect(same(readFileSync(fresh), v2)).toBe(true);
      expect(d.fetchedBytes).toBe(v2.length);
      const empty = file(`${name}-empty.bin`, new Uint8Array(0));
      await pull(empty, { endpoint: url, key: 'blocks.bin', pool });
      expect(same(readFileSync(empty), v2)).toBe(true);
    });

    it("should rebuild the chunks around scattered 4 KiB overwrites from the copy's blocks, and fetch whole those a lying or older server does not describe", async () => {
      const v1 = random(8 << 20);
      const v2 = v1.slice();
      for (let i = 0; i < 32; i++) v2.set(random(4096), i * 250_007 + 12_345);
      await publish('overwrites.bin', v2);
      const whole = await pull(file(`${name}-overwrites-whole.bin`, v1), { endpoint: url, key: 'overwrites.bin', pool, blockSize: 0 });
      const local = file(`${name}-overwrites.bin`, v1);
      const r = await pull(local, { endpoint: url, key: 'overwrites.bin', pool });
      expect(same(readFileSync(local), v2)).toBe(true);
      // Each overwrite: its 4 KiB in five 1 KiB blocks at most, against the chunks around it (8-16 KiB each) fetched whole.
      expect(r.fetchedBytes).toBeLessThanOrEqual(32 * 5 * 1024);
      expect(whole.fetchedBytes).toBeGreaterThan(3 * r.fetchedBytes);
      expect(r.copiedBytes + r.blockBytes + r.fetchedBytes).toBe(v2.length);
      expect(r.blockBytes).toBe(whole.fetchedBytes - r.fetchedBytes);

      // Digests of the old bytes, as if the copy had every block: the chunks holding overwritten bytes, rebuilt from old
      // blocks, fail their check and are fetched whole (the gaps' other chunks, moved only by a cut point, pass).
      const k = await init();
      const lying: typeof fetch = async (input, init) => {
        const u = new URL(String(input));
        const res = await fetch(input, init);
        if (!u.pathname.includes('/v1/blocks/')) return res;
        const q = parseBlockQuery((n) => u.searchParams.get(n) ?? undefined, v1.length);
        const out = new Uint8Array((await res.arrayBuffer()).byteLength);
        let at = 0;
        for (const sp of q.spans) at = digestBlocks(k, v1.subarray(sp.offset, sp.offset + sp.length), q.block, q.digestBytes, out, at);
        return new Response(out, { status: res.status, headers: res.headers });
      };
      const misled = file(`${name}-overwrites-lied-to.bin`, v1);
      const l = await pull(misled, { endpoint: url, key: 'overwrites.bin', pool, fetch: lying });
      expect(same(readFileSync(misled), v2)).toBe(true);
      expect(l.blockBytes + l.fetchedBytes).toBe(whole.fetchedBytes);
      expect(l.fetchedBytes).toBeGreaterThan(2 * r.fetchedBytes);

      // An endpoint without the route (an older deploy): the gaps are fetched whole, as without blocks.
      const older: typeof fetch = async (input, init) =>
        new URL(String(input)).pathname.includes('/v1/blocks/')
          ? Response.json({ error: { code: 'NOT_FOUND', message: 'no route' } }, { status: 404 })
          : fetch(input, init);
      const old = file(`${name}-overwrites-older.bin`, v1);
      const o = await pull(old, { endpoint: url, key: 'overwrites.bin', pool, fetch: older });
      expect(same(readFileSync(old), v2)).toBe(true);
      expect(o.blockBytes).toBe(0);
      expect(o.fetchedBytes).toBe(whole.fetchedBytes);
    });

    it('should refuse a damaged range and leave the local copy as it was', async () => {
      const v1 = random(3 << 20);
      const v2 = concat(random(100_000), v1);
      await publish('damaged.bin', v2);
      const local = file(`${name}-damaged.bin`, v1);
      const w = watched({ damage: true });
      await expect(pull(local, { endpoint: url, key: 'damaged.bin', pool, fetch: w.fetch, retry: { retries: 0 } })).rejects.toMatchObject({
        code: 'CHECKSUM_MISMATCH',
      });
      expect(same(readFileSync(local), v1)).toBe(true);
    });

    it('should resume a cut pull without fetching again what landed', async () => {
      const v1 = random(4 << 20);
      const v2 = v1.slice();
      for (let i = 0; i < 8; i++) v2.set(random(8192), i * (512 << 10) + 1000);
      await publish('resume.bin', v2, { kind: 'fixed', block: 4096 });
      const local = file(`${name}-resume.bin`, v1);
      // Each overwrite dirties 3 blocks; requests of one 4 KiB block each (requestBytes 1): the cut lands after 3 of them,
      // when the copies of every unchanged block have landed too.
      // Chunks fetched whole (blockSize 0), so the counts below are exact.
      const cut = watched({ stopAfter: 3 });
      await expect(
        pull(local, { endpoint: url, key: 'resume.bin', pool, fetch: cut.fetch, requestBytes: 1, concurrency: 1, retry: { retries: 0 }, blockSize: 0 }),
      ).rejects.toThrow();
      expect(same(readFileSync(local), v1)).toBe(true);
      expect(existsSync(local + PULL_SUFFIX)).toBe(true);
      const again = watched();
      const r = await pull(local, { endpoint: url, key: 'resume.bin', pool, fetch: again.fetch, blockSize: 0 });
      expect(same(readFileSync(local), v2)).toBe(true);
      expect(r.fetchedBytes).toBe(8 * 3 * 4096 - 3 * 4096); // the 3 fetched blocks are not fetched again
      expect(r.resumedBytes).toBe(v2.length - r.fetchedBytes); // nor copied again: every other block was in place
      expect(r.copiedBytes).toBe(0);
    });

    it('should not replace a local copy edited during the pull', async () => {
      const v1 = random(2 << 20);
      await publish('edited.bin', concat(v1, random(50_000)));
      const local = file(`${name}-edited.bin`, v1);
      let edited = false;
      const editing: typeof fetch = async (input, init) => {
        if (!edited && new Headers(init?.headers).get('range')) {
          edited = true;
          writeFileSync(local, concat(v1.subarray(0, 10), new Uint8Array([1, 2, 3]), v1.subarray(13))); // same size, new bytes
          const t = statSync(local).mtimeMs / 1000 + 5;
          utimesSync(local, t, t);
        }
        return fetch(input, init);
      };
      await expect(pull(local, { endpoint: url, key: 'edited.bin', pool, fetch: editing })).rejects.toMatchObject({ code: 'SOURCE_CHANGED' });
      expect(readFileSync(local).subarray(10, 13)).toEqual(Buffer.from([1, 2, 3])); // the user's edit is still there
    });

    it('should pull again with whole digests when the digest prefixes mislead it (a collision, or a lying server)', async () => {
      const v1 = random(1 << 20);
      const v2 = concat(v1.subarray(0, 512 << 10), random(4096), v1.subarray(512 << 10));
      await publish('prefix.bin', v2, { kind: 'fixed', block: 4096 });
      const local = file(`${name}-prefix.bin`, v1);
      const asked: string[] = [];
      // The short manifest (fixed blocks: 40-byte header, then 8-byte prefixes) claims block 0 has block 1's prefix.
      const lying: typeof fetch = async (input, init) => {
        const url = new URL(String(input));
        const res = await fetch(input, init);
        if (!url.pathname.includes('/v1/manifests/')) return res;
        asked.push(url.searchParams.get('digest') ?? '');
        const body = new Uint8Array(await res.arrayBuffer());
        if (url.searchParams.get('digest') === '8') body.copyWithin(40, 48, 56);
        return new Response(body, { status: res.status, headers: res.headers });
      };
      const r = await pull(local, { endpoint: url, key: 'prefix.bin', pool, fetch: lying });
      expect(asked).toEqual(['8', '32']);
      expect(same(readFileSync(local), v2)).toBe(true);
      expect(r.size).toBe(v2.length);
    });

    it('should rebuild in place: a rotation (a copy cycle: its closing copy fetched), an insert, a truncation', async () => {
      const v1 = random(3 << 20);
      const cases: Record<string, Uint8Array> = {
        rotated: concat(v1.subarray(1 << 20), v1.subarray(0, 1 << 20)),
        inserted: concat(v1.subarray(0, 1 << 20), random(65_536), v1.subarray(1 << 20)), // block-aligned: fixed blocks follow it
        truncated: v1.subarray(0, 1_234_567),
      };
      for (const [what, v2] of Object.entries(cases)) {
        await publish(`in-place-${what}.bin`, v2, { kind: 'fixed', block: 4096 });
        const local = file(`${name}-in-place-${what}.bin`, v1);
        const ino = statSync(local).ino;
        const r = await pull(local, { endpoint: url, key: `in-place-${what}.bin`, pool, inPlace: true });
        expect(same(readFileSync(local), v2), what).toBe(true);
        expect(statSync(local).ino, what).toBe(ino); // the same file, rewritten: no second copy
        expect(existsSync(local + PULL_SUFFIX), what).toBe(false);
        // A rotation's two moves read each other's destinations: the smaller (1 MiB) closes the cycle and is fetched.
        const most = { rotated: 1 << 20, inserted: 65_536, truncated: 4096 }[what]!; // truncated: the last, shorter block is new
        expect(r.fetchedBytes, what).toBeLessThanOrEqual(most);
        expect(r.copiedBytes + r.fetchedBytes, what).toBeLessThanOrEqual(v2.length);
      }
    });

    it('should pull with the CLI', async () => {
      const v2 = random(1 << 20);
      await publish('cli.bin', v2);
      const local = file(`${name}-cli.bin`, v2.subarray(0, 500_000));
      const cli = (...args: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(process.execPath, [CLI, 'pull', url, local, '--key', 'cli.bin', '--json', ...args], (e, stdout, stderr) =>
            e ? reject(new Error(`${e.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
          ),
        );
      const result = JSON.parse(await cli('--workers', '1'));
      expect(result.size).toBe(v2.length);
      expect(result.fetchedBytes).toBeLessThan(v2.length);
      expect(same(readFileSync(local), v2)).toBe(true);
      // Without the fsyncs (as rsync by default), on the pool main.ts started early (one per core).
      const v3 = concat(v2.subarray(0, 300_000), random(20_000), v2.subarray(300_000));
      await publish('cli.bin', v3);
      expect(JSON.parse(await cli('--no-fsync')).fetchedBytes).toBeLessThan(100_000);
      expect(same(readFileSync(local), v3)).toBe(true);
    });
  });
}
