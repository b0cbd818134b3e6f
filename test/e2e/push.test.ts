// End to end on Node: a real endpoint on loopback (fs store in a temp dir) and
// the SDK's push() with a real worker pool, over random edit scripts; after
// every push the stored file must equal the client's byte for byte.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { WorkerApi } from '../../sdk/pool/worker-api.js';
import type { ChunkingSpec } from '../../sdk/protocol/chunking.js';
import { serve, type ServeHandle } from '../../worker/node.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-e2e-'));
const store = join(dir, 'store');
let server: ServeHandle;
let pool: WorkerPool<WorkerApi>;

beforeAll(async () => {
  server = await serve({ dir: store, port: 0 });
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seed = 1;
function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  return b;
}
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
};

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
  const result = await push(path, { endpoint: server.url, key, pool, chunking, ...extra });
  // Buffer.equals, not toEqual: vitest's deep equality walks 4 MiB byte by byte in seconds.
  expect(readFileSync(join(store, key)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)), `${key} after ${name}`).toBe(true);
  return result;
}

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
    const a = random(2 << 20), b = random(2 << 20);
    writeFileSync(join(dir, 'ra'), a);
    writeFileSync(join(dir, 'rb'), b);
    const results = await Promise.allSettled([
      push(join(dir, 'ra'), { endpoint: server.url, key: 'race.bin', pool }),
      push(join(dir, 'rb'), { endpoint: server.url, key: 'race.bin', pool }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(won.length).toBe(1);
    expect(lost.length).toBe(1);
    expect(lost[0].reason.code).toBe('VERSION_CONFLICT');
    const stored = readFileSync(join(store, 'race.bin'));
    expect(stored.equals(Buffer.from(a)) || stored.equals(Buffer.from(b))).toBe(true);
  });
});
