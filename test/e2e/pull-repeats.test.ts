// Pulls of versions full of repeats (zeros of a VM image or a preallocated
// file, a block repeated through a table) against the Node endpoint: each
// distinct chunk is found or fetched once and written everywhere it is
// wanted, all-zero chunks are neither read nor fetched (holes of a new
// output), and the output is never opened through a link.
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, PULL_SUFFIX, pull, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve } from '../../worker/node/serve.js';
import { concat, randomBytes } from '../support/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-pull-repeats-'));
let pool: WorkerPool<ThreadApi>;
let url: string;
let close: () => Promise<void>;
const file = (name: string, bytes?: Uint8Array) => {
  const path = join(dir, name);
  if (bytes) writeFileSync(path, bytes);
  return path;
};
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const fixed4k = { kind: 'fixed', block: 4096 } as const;

/** `count` copies of `block`. */
const repeated = (block: Uint8Array, count: number) => {
  const out = new Uint8Array(block.length * count);
  for (let i = 0; i < count; i++) out.set(block, i * block.length);
  return out;
};

/** A fetch that counts ranged GETs and their ranges. */
function counted() {
  const seen = { gets: 0, ranges: 0 };
  const f: typeof fetch = (input, init) => {
    const range = new Headers(init?.headers).get('range');
    if (range) {
      seen.gets++;
      seen.ranges += range.split(',').length;
    }
    return fetch(input, init);
  };
  return { seen, fetch: f };
}

beforeAll(async () => {
  pool = await createNodePool(2);
  ({ url, close } = await serve({ dir: join(dir, 'store'), port: 0 }));
});
afterAll(async () => {
  await close?.();
  pool?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

const publish = (key: string, bytes: Uint8Array, chunking?: { kind: 'fixed'; block: number }) =>
  push(file(`pushed-${key}`, bytes), { endpoint: url, key, pool, chunking });

describe('pull of repeats', () => {
  for (const chunking of [fixed4k, undefined]) {
    const how = chunking ? 'fixed 4 KiB blocks' : 'CDC';
    it(`should pull zeros (${how}) onto nothing and onto zeros with no request and no read, leaving holes`, async () => {
      const zeros = new Uint8Array(16 << 20);
      await publish(`zeros-${how}`, zeros, chunking);
      const fresh = file(`zeros-fresh-${how}`);
      const w = counted();
      const r = await pull(fresh, { endpoint: url, key: `zeros-${how}`, pool, fetch: w.fetch });
      expect(same(readFileSync(fresh), zeros)).toBe(true);
      expect(w.seen.gets).toBe(0);
      expect(r.zeroBytes).toBe(zeros.length);
      expect(r.fetchedBytes + r.copiedBytes).toBe(0);
      expect(statSync(fresh).blocks * 512).toBeLessThan(1 << 20); // a sparse file: nothing was written

      const onto = file(`zeros-onto-${how}`, zeros);
      const o = await pull(onto, { endpoint: url, key: `zeros-${how}`, pool, fetch: w.fetch });
      expect(same(readFileSync(onto), zeros)).toBe(true);
      expect(w.seen.gets).toBe(0);
      expect(o.copiedBytes + o.placedBytes).toBe(0); // the local copy was not scanned
    });

    it(`should fetch a block repeated through the version once (${how}) and write it everywhere`, async () => {
      const block = randomBytes(4096, 1);
      const version = concat(repeated(block, 2048), randomBytes(100_000, 2), repeated(block, 2048));
      await publish(`table-${how}`, version, chunking);
      const fresh = file(`table-fresh-${how}`);
      const w = counted();
      const r = await pull(fresh, { endpoint: url, key: `table-${how}`, pool, fetch: w.fetch });
      expect(same(readFileSync(fresh), version)).toBe(true);
      // The repeated chunk (and CDC's few chunks where the random run meets the repeats) once each, the random run.
      expect(r.fetchedBytes).toBeLessThan(100_000 + 6 * 65536);
      expect(r.dupBytes).toBe(version.length - r.fetchedBytes);
      expect(w.seen.gets).toBe(1);

      // Onto a copy that holds the block once: found there, placed everywhere, nothing of it fetched.
      const local = file(`table-local-${how}`, concat(block, randomBytes(100_000, 2)));
      const l = await pull(local, { endpoint: url, key: `table-${how}`, pool });
      expect(same(readFileSync(local), version)).toBe(true);
      expect(l.fetchedBytes).toBeLessThan(6 * 65536);
    });
  }

  it('should pull in place a version whose repeats move and whose zeros grow', async () => {
    const a = randomBytes(4096, 3);
    const b = randomBytes(4096, 4);
    const v1 = concat(repeated(a, 256), repeated(b, 256));
    const v2 = concat(repeated(b, 512), new Uint8Array(2 << 20), repeated(a, 128));
    await publish('moves', v2, fixed4k);
    const local = file('moves-local', v1);
    const w = counted();
    const r = await pull(local, { endpoint: url, key: 'moves', pool, inPlace: true, fetch: w.fetch });
    expect(same(readFileSync(local), v2)).toBe(true);
    expect(r.fetchedBytes).toBeLessThanOrEqual(2 * 4096); // at most the copies that close a cycle
    expect(r.zeroBytes).toBe(2 << 20);
  });

  it('should resume into an output whose zeros were not written yet', async () => {
    const version = concat(randomBytes(1 << 20, 5), new Uint8Array(4 << 20), randomBytes(1 << 20, 6));
    await publish('resume-zeros', version, fixed4k);
    const local = file('resume-zeros-local');
    writeFileSync(local + PULL_SUFFIX, concat(version.subarray(0, 1 << 20), randomBytes(version.length - (1 << 20), 7))); // landed: the first MiB
    const r = await pull(local, { endpoint: url, key: 'resume-zeros', pool });
    expect(same(readFileSync(local), version)).toBe(true);
    expect(r.resumedBytes).toBe(1 << 20);
    expect(r.fetchedBytes).toBe(1 << 20);
  });

  it('should pull every other 2 KiB block changed, its Range headers within 8,000 bytes (Node answers 431 past 16 KiB)', async () => {
    const v1 = randomBytes(24 << 20, 9);
    const v2 = v1.slice();
    for (let at = 0; at < v2.length; at += 4096) v2.set(randomBytes(2048, at), at);
    await publish('every-other', v2, { kind: 'fixed', block: 2048 });
    const local = file('every-other-local', v1);
    const headers: number[] = [];
    const watch: typeof fetch = (input, init) => {
      const range = new Headers(init?.headers).get('range');
      if (range) headers.push(range.length);
      return fetch(input, init);
    };
    const r = await pull(local, { endpoint: url, key: 'every-other', pool, fetch: watch, blockSize: 0 });
    expect(same(readFileSync(local), v2)).toBe(true);
    expect(r.fetchedBytes).toBe(v2.length / 2);
    expect(Math.max(...headers)).toBeLessThanOrEqual(8000);
    expect(Math.max(...headers)).toBeGreaterThan(6000); // packed up to the bound, not far below it
  });

  it('should not write through a link planted at the output path', async () => {
    const version = randomBytes(1 << 20, 8);
    await publish('linked', version);
    const target = file('linked-target', new TextEncoder().encode('not yours'));
    const local = file('linked-local');
    symlinkSync(target, local + PULL_SUFFIX);
    await pull(local, { endpoint: url, key: 'linked', pool });
    expect(readFileSync(target, 'utf8')).toBe('not yours');
    expect(same(readFileSync(local), version)).toBe(true);
    expect(lstatSync(local).isSymbolicLink()).toBe(false);
    expect(existsSync(local + PULL_SUFFIX)).toBe(false);
  });
});
