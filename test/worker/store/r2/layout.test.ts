// The R2 layout in workerd (local R2, a real Durable Object's SQLite): a
// version is a recipe of extents over immutable objects. Checked here: a
// delta commit writes only its literal bytes; keys of the older flat layout
// read, and take a push on top; unheld objects are collected after the grace
// period and held ones never; compaction keeps recipes short in bounded steps,
// and a read opened before a step still reads exact bytes after it; an R2
// failure at any call of a commit, a compaction step or a collection, followed
// by a fresh store over the same SQLite (the object restarted), leaves the
// key's current version exact and every object it reads in place. (workerd
// prints "Network connection lost" for puts cut by an injected failure: its
// local R2 logging the stream the store aborted.)
import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_COMPACT_AT, planRuns } from '../../../../worker/store/r2/compaction.js';
import { GRACE_MS } from '../../../../worker/store/r2/objects.js';
import { decodeRecipe } from '../../../../worker/store/r2/recipe.js';
import { MAX_READ_CALLS, R2Store } from '../../../../worker/store/r2/store.js';
import { MAX_RANGE_READS } from '../../../../core/base/limits.js';
import type { VersionInfo } from '../../../../worker/store/store.js';
import { randomBytes } from '../../../support/bytes.js';
import { emptyBucket, keyObjectStub, sliceRandomValues } from '../../cloudflare/in-object.js';

sliceRandomValues();
afterEach(emptyBucket);

let n = 0;
/** Runs `fn` inside a fresh key object, with its SQLite. */
async function inObject<T>(fn: (sql: SqlStorage) => Promise<T>): Promise<T> {
  const stub = keyObjectStub(env.KEYS.idFromName(`layout-${n++}`));
  const r = await runInDurableObject(stub, (_o, state) =>
    fn(state.storage.sql).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
  );
  if ('error' in r) throw r.error;
  return r.value;
}

/** The test bucket, counting bytes put into data objects (pieces, compacted runs) and failing (once) at R2 call `failAt` when given. */
function bucket(failAt = 0) {
  const stats = { calls: 0, put: 0 };
  const b = new Proxy(env.BUCKET, {
    get(target, name) {
      const v = Reflect.get(target, name);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (++stats.calls === failAt) {
          const e = new Error(`injected failure at R2 call ${failAt} (${String(name)})`);
          if (name === 'resumeMultipartUpload') throw e; // the one synchronous method
          return Promise.reject(e);
        }
        const r = v.apply(target, args);
        // Streamed puts have no length up front: the stored object's size says what was written.
        if (name !== 'put' || !/^[pc]\//.test(String(args[0]))) return r;
        return (r as Promise<R2Object>).then((o) => {
          stats.put += o.size;
          return o;
        });
      };
    },
  });
  return { b, stats };
}

const clock = { t: Date.now() };
/** Compaction past 64 extents, down to 16 (in production 512 and 256): versions of a few MiB exercise it. */
const BOUNDS = { at: 64, to: 16 };
const store = (sql: SqlStorage, b: R2Bucket = env.BUCKET) => new R2Store(b, sql, () => clock.t, { compaction: BOUNDS });

async function readAll(s: R2Store, key: string): Promise<Uint8Array> {
  return new Uint8Array(await new Response((await s.read(key)).body).arrayBuffer());
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A first push: `bytes` written and flushed in `piece`-byte writes (one R2 piece each). */
async function pushNew(s: R2Store, key: string, expected: string | null, bytes: Uint8Array, piece = 1 << 20): Promise<VersionInfo> {
  const st = await s.createStaging(bytes.length);
  for (let at = 0; at < bytes.length; at += piece) {
    await st.writeAt(at, bytes.subarray(at, at + piece));
    await st.flush();
  }
  return s.commit(key, st.id, { expectedVersion: expected });
}

/** A delta push: `next` is `basis`'s bytes with [a, b) replaced; copies for the rest, a literal for [a, b). */
async function pushDelta(s: R2Store, key: string, basis: VersionInfo, next: Uint8Array, a: number, b: number): Promise<VersionInfo> {
  const st = await s.createStaging(next.length);
  await st.copyFrom(key, basis.id, 0, a, 0);
  await st.copyFrom(key, basis.id, b, next.length - b, b);
  await st.writeAt(a, next.subarray(a, b));
  await st.flush();
  return s.commit(key, st.id, { expectedVersion: basis.id });
}

/** The objects the key's current recipe reads, with the recipe itself. */
async function heldObjects(key: string): Promise<string[]> {
  const head = await env.BUCKET.head(`h/${key}`);
  const name = head!.customMetadata!.recipe ?? head!.customMetadata!.data;
  if (!name.startsWith('r/')) return [name];
  const r = decodeRecipe(new Uint8Array(await (await env.BUCKET.get(name))!.arrayBuffer()), name);
  return [name, ...new Set(r.extents.filter((e) => e.obj !== '').map((e) => e.obj))];
}

async function names(prefixes = ['p/', 'c/', 'r/', 'd/']): Promise<string[]> {
  const out: string[] = [];
  for (const prefix of prefixes) out.push(...(await env.BUCKET.list({ prefix, limit: 1000 })).objects.map((o) => o.key));
  return out.sort();
}

/** The key reads `bytes` exactly, and every object its recipe reads exists. */
async function intact(s: R2Store, key: string, bytes: Uint8Array): Promise<void> {
  expect(same(await readAll(s, key), bytes)).toBe(true);
  const present = new Set(await names());
  for (const obj of await heldObjects(key)) expect(present.has(obj), obj).toBe(true);
}

/** Runs the key's collection as of `later` ms from now. */
async function collect(s: R2Store, later: number): Promise<void> {
  await s.sweep(clock.t + later);
}

describe('R2 layout', () => {
  it('should commit a delta by writing only its literal bytes, and collect the replaced version after the grace period', async () => {
    await inObject(async (sql) => {
      const { b, stats } = bucket();
      const s = store(sql, b);
      const v1 = randomBytes(6 << 20, 1);
      const first = await pushNew(s, 'delta.bin', null, v1);
      const before = await names();
      const v2 = v1.slice();
      v2.set(randomBytes(5000, 2), 3_000_000);
      stats.put = 0;
      await pushDelta(s, 'delta.bin', first, v2, 3_000_000, 3_005_000);
      // One piece of the 5,000 literal bytes (besides the recipe and the head): no copy of the 6 MiB.
      expect(stats.put).toBe(5000);
      await intact(s, 'delta.bin', v2);
      await collect(s, GRACE_MS - 1000);
      expect((await names()).filter((x) => before.includes(x))).toEqual(before); // within the grace period: kept
      await collect(s, GRACE_MS + 1000);
      const after = await names();
      expect(after).toEqual((await heldObjects('delta.bin')).sort()); // everything else is gone
      expect(after).not.toContain(before.find((x) => x.startsWith('r/')));
      await intact(s, 'delta.bin', v2);
    });
  });

  it('should read, pull and push on top of a key of the older flat layout, then collect its object once unheld', async () => {
    await inObject(async (sql) => {
      const s = store(sql);
      const v1 = randomBytes(3 << 20, 3);
      const hex = 'ab'.repeat(16);
      await env.BUCKET.put(`d/${hex}`, v1);
      await env.BUCKET.put(`h/old.bin`, new Uint8Array(0), { customMetadata: { id: `v-${hex}`, size: String(v1.length), time: '1', data: `d/${hex}` } });
      await env.BUCKET.put(`m/${hex}/cdc-x`, new Uint8Array([1]));
      expect(same(await readAll(s, 'old.bin'), v1)).toBe(true);
      expect(same(await s.readRange('old.bin', `v-${hex}`, 100, 1000), v1.subarray(100, 1100))).toBe(true);
      expect(await s.listManifests('old.bin', `v-${hex}`)).toEqual(['cdc-x']);
      const v2 = v1.slice();
      v2.set(randomBytes(1000, 4), 2_000_000);
      const second = await pushDelta(s, 'old.bin', (await s.head('old.bin'))!, v2, 2_000_000, 2_001_000);
      expect(await heldObjects('old.bin')).toContain(`d/${hex}`); // copies read the flat object: no bytes moved
      await collect(s, GRACE_MS + 1000);
      await intact(s, 'old.bin', v2);
      expect(await names(['m/'])).toEqual([]); // the old version's manifest went with it
      const v3 = randomBytes(1 << 20, 5);
      await pushNew(s, 'old.bin', second.id, v3);
      await collect(s, GRACE_MS + 1000);
      expect(await names(['d/'])).toEqual([]);
      await intact(s, 'old.bin', v3);
    });
  });

  it('should compact a version of many pieces in bounded steps, each read exact during and after', async () => {
    await inObject(async (sql) => {
      const s = store(sql);
      const v1 = randomBytes(90 * 256 * 1024, 6); // 90 pieces of 256 KiB: 22.5 MiB, five 5 MiB parts
      await pushNew(s, 'many.bin', null, v1, 256 * 1024);
      const pieces = (await heldObjects('many.bin')).length - 1;
      expect(pieces).toBe(90);
      let steps = 0;
      for (;;) {
        const reader = await s.reader('many.bin'); // opened on the recipe before the step
        const more = await s.compactor!.step();
        steps++;
        expect(same(new Uint8Array(await new Response(await reader.read(0, v1.length)).arrayBuffer()), v1)).toBe(true);
        await intact(s, 'many.bin', v1);
        if (!more) break;
        expect(steps).toBeLessThan(20);
      }
      expect(steps).toBeGreaterThan(1); // five parts at four per step
      // Once started it goes down to `to`, so the next pushes' few extents do not start it again.
      expect((await heldObjects('many.bin')).length - 1).toBeLessThanOrEqual(BOUNDS.to);
      const v2 = v1.slice();
      v2.set(randomBytes(100, 12), 5_000_000);
      await pushDelta(s, 'many.bin', (await s.head('many.bin'))!, v2, 5_000_000, 5_000_100);
      expect(await s.compactor!.due()).toBe(false);
      await collect(s, GRACE_MS + 1000);
      expect(await names(['p/'])).toHaveLength(1); // the delta's one piece; the first push's are compacted and collected
      await intact(s, 'many.bin', v2);
    });
  });

  it('should answer a read past the R2 calls a request may make with BUSY and Retry-After, then serve it once compacted', async () => {
    await inObject(async (sql) => {
      const s = new R2Store(env.BUCKET, sql, () => clock.t, { compaction: BOUNDS, maxReadCalls: 100 });
      const v1 = randomBytes(150 * 16384, 9);
      await pushNew(s, 'over.bin', null, v1, 16384); // 150 pieces: the commit answers at once, no compaction in it
      expect((await heldObjects('over.bin')).length - 1).toBe(150);
      const e = await s.read('over.bin').catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'BUSY', options: { retryAfterS: 10 } });
      expect(same(await s.readRange('over.bin', (await s.head('over.bin'))!.id, 0, 50 * 16384), v1.subarray(0, 50 * 16384))).toBe(true);
      while (await s.compactor!.step());
      await intact(s, 'over.bin', v1);
    });
  });

  it('should keep a flat copy of the current version under FLAT_PREFIX, in steps after each commit, and delete it with the key', async () => {
    await inObject(async (sql) => {
      const s = new R2Store(env.BUCKET, sql, () => clock.t, { compaction: BOUNDS, flatPrefix: 'files/' });
      /** The flat copy: whether it holds `bytes`, and the version its metadata names. */
      const flat = async (bytes?: Uint8Array) => {
        const o = await env.BUCKET.get('files/flat.bin');
        if (!o) return null;
        const got = new Uint8Array(await o.arrayBuffer());
        return { exact: bytes ? same(got, bytes) : undefined, version: o.customMetadata?.['deltaflare-version'] };
      };
      const v1 = randomBytes(12 << 20, 10); // three 5 MiB parts: a step or more
      const first = await pushNew(s, 'flat.bin', null, v1);
      expect(await s.compactor!.due()).toBe(true);
      while (await s.compactor!.step());
      expect(await flat(v1)).toEqual({ exact: true, version: first.id });
      expect(await s.compactor!.due()).toBe(false);
      const v2 = v1.slice();
      v2.set(randomBytes(100, 11), 7_000_000);
      const second = await pushDelta(s, 'flat.bin', first, v2, 7_000_000, 7_000_100);
      expect((await flat())!.version).toBe(first.id); // trails until its steps run
      while (await s.compactor!.step());
      expect(await flat(v2)).toEqual({ exact: true, version: second.id });
      await collect(s, GRACE_MS + 1000);
      expect((await flat())!.version).toBe(second.id); // not an object the collection knows
      await s.delete('flat.bin');
      expect(await flat()).toBeNull();
    });
  });

  it('should fit every read of a version in the 1,000 R2 calls a request may make', () => {
    // A whole-file GET reads each extent once; a multi-range GET's reads each cross the extents of their own span:
    // any read of a version compacted to the most COMPACTION allows fits.
    expect(MAX_COMPACT_AT + MAX_RANGE_READS).toBeLessThanOrEqual(MAX_READ_CALLS);
    expect(MAX_READ_CALLS + 2).toBeLessThanOrEqual(1000); // with the head and the recipe
  });

  it('should plan compaction runs that merge the cheapest neighbours first', () => {
    const M = 1 << 20;
    // Large extents split by small pieces: the small ones merge with each other before any large one is rewritten.
    expect(planRuns([{ len: 500 * M }, { len: M }, { len: M }, { len: 500 * M }, { len: M }], 4)).toEqual([[1, 2]]);
    expect(
      planRuns(
        Array.from({ length: 10 }, () => ({ len: M })),
        2,
      ),
    ).toEqual([[0, 10]]);
    expect(planRuns([{ len: 700 << 20 }, { len: 700 << 20 }], 1)).toEqual([]); // over 1 GiB together: left as they are
  });

  it('should leave the current version exact and every object it reads in place when an R2 call fails anywhere in a commit, a compaction or a collection', async () => {
    const v1 = randomBytes((BOUNDS.at + 12) * 16384, 7); // more pieces than BOUNDS.at: the step has work
    const v2 = v1.slice();
    v2.set(randomBytes(3000, 8), 1_000_000);
    const DAY = 86_400_000; // past ORPHAN_AGE_MS: a staging area a cut commit left is swept
    for (let failAt = 1; failAt <= 16; failAt++) {
      await inObject(async (sql) => {
        const first = await pushNew(store(sql), 'crash.bin', null, v1, 16384);
        const want = async (s: R2Store) => ((await s.head('crash.bin'))!.id === first.id ? v1 : v2);
        // A commit cut at R2 call `failAt`, then the object restarts: a fresh store over the same SQLite.
        await pushDelta(store(sql, bucket(failAt).b), 'crash.bin', first, v2, 1_000_000, 1_003_000).catch(() => undefined);
        let s = store(sql);
        await intact(s, 'crash.bin', await want(s));
        // A compaction step cut the same way, then run to its end.
        await store(sql, bucket(failAt).b)
          .compactor!.step()
          .catch(() => undefined);
        s = store(sql);
        await intact(s, 'crash.bin', await want(s));
        while (await s.compactor!.step());
        await intact(s, 'crash.bin', await want(s));
        // A collection cut the same way, long after everything's grace period.
        await store(sql, bucket(failAt).b)
          .sweep(clock.t + DAY + GRACE_MS)
          .catch(() => undefined);
        s = store(sql);
        await intact(s, 'crash.bin', await want(s));
        // Then a whole collection: nothing leaked, nothing held deleted.
        await s.sweep(clock.t + DAY + 3 * GRACE_MS);
        await intact(s, 'crash.bin', await want(s));
        expect(await names()).toEqual((await heldObjects('crash.bin')).sort());
      });
      await emptyBucket();
    }
  }, 180_000);
});
