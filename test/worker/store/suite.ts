// The one test suite every Store backend must pass (like BLAKE3's single
// harness for all its backends): memory.test.ts, fs/store.test.ts and, inside
// workerd, r2/store.test.ts run it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkingId } from '../../../core/protocol/chunking.js';
import { COPY_PIECE, MAX_READ, type Store } from '../../../worker/store/store.js';
import { bytes, drain, expectBytes, fakeManifest, put, readAll, rejectsWith, session } from './helpers.js';

/** A fresh, empty store and how to dispose of it. */
export type MakeStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** Keys every backend must refuse with INVALID_KEY. */
export const HOSTILE_KEYS = [
  '',
  '/etc/passwd',
  '../escape',
  'a/../../escape',
  'a/./b',
  'a//b',
  'a/',
  'a\\b',
  '..\\x',
  'nul\u0000byte',
  'bell\u0007',
  'del\u007f',
  'c1\u0085',
  '%2e%2e/escape',
  'a/%2E%2E/b',
  '%252e%252e/x',
  '%2fetc/passwd',
  'a%00b',
  'a%5cb',
  '%c0%ae%c0%ae/x',
  '.deltaflare/keys/x',
  '.DeltaFlare',
  '.deltaflare-extra/x',
  '%2edeltaflare/x',
  'x'.repeat(1025),
  `${'é'.repeat(513)}`,
  `${'s'.repeat(256)}/x`,
  'lone\ud800surrogate',
];

export function storeSuite(name: string, make: MakeStore): void {
  describe(`store suite: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => cleanup());

    it('should report a missing key as null from head and NOT_FOUND from read', async () => {
      expect(await store.head('nope')).toBeNull();
      await rejectsWith(store.read('nope'), 'NOT_FOUND');
      await rejectsWith(store.delete('nope'), 'NOT_FOUND');
    });

    it('should commit parts written out of order and concurrently, and read them back whole and by range', async () => {
      // 3 MiB + 5: crosses the 1 MiB part and 256 KiB read-piece boundaries, with a ragged tail.
      const data = bytes((3 << 20) + 5);
      const s = await store.createStaging(data.length);
      const cuts = [0, 1000, 700_000, 2_100_000, data.length];
      await Promise.all([3, 0, 2, 1].map((i) => s.writeAt(cuts[i], data.subarray(cuts[i], cuts[i + 1]))));
      expectBytes(await s.readAt(699_990, 20), data.subarray(699_990, 700_010));
      const info = await store.commit('dir/disk.img', s.id, { expectedVersion: null, root: 'ab'.repeat(32) });
      expect(info).toMatchObject({ size: data.length, root: 'ab'.repeat(32) });
      expect(await store.head('dir/disk.img')).toEqual(info);
      expectBytes(await readAll(store, 'dir/disk.img'), data);
      const r = await store.read('dir/disk.img', { offset: 262_000, length: 600_000 });
      expectBytes(await drain(r.body), data.subarray(262_000, 862_000));
      expectBytes(await drain((await store.read('dir/disk.img', { offset: data.length })).body), new Uint8Array(0));
      await rejectsWith(store.read('dir/disk.img', { offset: data.length + 1 }), 'RANGE');
      await rejectsWith(store.read('dir/disk.img', { offset: 10, length: data.length }), 'RANGE');
      await rejectsWith(store.staging(s.id), 'NOT_FOUND'); // a commit consumes its staging area
    });

    it("should keep a version's metadata with it, answer it from head and list, and drop it with the next version", async () => {
      const metadata = { owner: 'ana', 'build.id': '412', note: 'é ü ✓' };
      const s = await store.createStaging(3);
      await s.writeAt(0, bytes(3));
      const info = await store.commit('meta.bin', s.id, { expectedVersion: null, metadata });
      expect(info.metadata).toEqual(metadata);
      expect((await store.head('meta.bin'))?.metadata).toEqual(metadata);
      expect((await store.list('meta', 10)).entries[0].version.metadata).toEqual(metadata);
      const v2 = await put(store, 'meta.bin', bytes(4), info.id);
      expect(v2.metadata).toBeUndefined();
      expect((await store.head('meta.bin'))?.metadata).toBeUndefined();
    });

    it('should commit and read an empty file', async () => {
      await put(store, 'empty', new Uint8Array(0), null);
      expect((await store.head('empty'))?.size).toBe(0);
      expectBytes(await readAll(store, 'empty'), new Uint8Array(0));
    });

    it('should refuse out-of-range staging writes, oversized reads and bad sizes', async () => {
      const s = await store.createStaging(100);
      await rejectsWith(s.writeAt(90, bytes(11)), 'RANGE');
      await rejectsWith(s.writeAt(-1, bytes(1)), 'INVALID_ARGUMENT');
      await rejectsWith(s.readAt(0, MAX_READ + 1), 'LIMIT');
      await rejectsWith(s.resize(50), 'INVALID_ARGUMENT');
      await rejectsWith(store.createStaging(-5), 'INVALID_ARGUMENT');
      await rejectsWith(store.createStaging(1.5), 'INVALID_ARGUMENT');
      expect(await s.size()).toBe(100);
    });

    it('should reopen a staging area by id and see earlier writes, and forget it after discard', async () => {
      const s = await store.createStaging(10);
      await s.writeAt(2, new Uint8Array([7, 8, 9]));
      const again = await store.staging(s.id);
      expectBytes(await again.readAt(0, 6), new Uint8Array([0, 0, 7, 8, 9, 0]));
      await again.discard();
      await rejectsWith(store.staging(s.id), 'NOT_FOUND');
      await rejectsWith(s.writeAt(0, new Uint8Array([1])), 'NOT_FOUND');
    });

    it('should copy from a stored version in pieces and refuse a stale source version', async () => {
      const old = bytes(COPY_PIECE * 2 + 333); // > 2 pieces, so the copy loops 3 times
      const v1 = await put(store, 'src', old, null);
      const s = await store.createStaging(old.length + 10);
      await s.copyFrom('src', v1.id, 0, old.length, 10);
      await s.writeAt(0, new Uint8Array(10).fill(1));
      expectBytes(await store.readRange('src', v1.id, 5, 100), old.subarray(5, 105));
      const v2 = await put(store, 'src', bytes(50), v1.id);
      await rejectsWith(s.copyFrom('src', v1.id, 0, 10, 0), 'CONFLICT');
      await rejectsWith(store.readRange('src', v1.id, 0, 10), 'CONFLICT');
      await rejectsWith(s.copyFrom('src', v2.id, 40, 20, 0), 'RANGE');
      await store.commit('dst', s.id, { expectedVersion: null });
      const got = await readAll(store, 'dst');
      expectBytes(got.subarray(10), old);
      expectBytes(got.subarray(0, 10), new Uint8Array(10).fill(1));
    });

    it('should refuse a commit with a stale expectedVersion and change nothing', async () => {
      const a = bytes(1000);
      const v1 = await put(store, 'k', a, null);
      await rejectsWith(put(store, 'k', bytes(10), null), 'CONFLICT');
      await rejectsWith(put(store, 'k', bytes(10), 'v-0000'), 'CONFLICT');
      expect(await store.head('k')).toEqual(v1);
      expectBytes(await readAll(store, 'k'), a);
      const v2 = await put(store, 'k', bytes(10), v1.id);
      expect(v2.id).not.toBe(v1.id);
    });

    it('should let exactly one of ten racing commits with the same expectedVersion win', async () => {
      const v1 = await put(store, 'race', bytes(100), null);
      const datas = Array.from({ length: 10 }, () => bytes(200_000));
      const stagings = await Promise.all(
        datas.map(async (d) => {
          const s = await store.createStaging(d.length);
          await s.writeAt(0, d);
          return s;
        }),
      );
      const results = await Promise.allSettled(stagings.map((s) => store.commit('race', s.id, { expectedVersion: v1.id })));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason.code).toBe('CONFLICT');
      expectBytes(await readAll(store, 'race'), datas[won[0]]);
    });

    it('should list keys by prefix in code-unit order, in pages, and delete them', async () => {
      const keys = ['b', 'a/2', 'a/1', 'a-c', 'a/sub/x', 'ab'];
      for (const k of keys) await put(store, k, bytes(3), null);
      const page1 = await store.list('', 4);
      expect(page1.entries.map((e) => e.key)).toEqual(['a-c', 'a/1', 'a/2', 'a/sub/x']);
      const page2 = await store.list('', 4, page1.cursor);
      expect(page2.entries.map((e) => e.key)).toEqual(['ab', 'b']);
      expect(page2.cursor).toBeUndefined();
      expect((await store.list('a/', 10)).entries.map((e) => e.key)).toEqual(['a/1', 'a/2', 'a/sub/x']);
      expect((await store.list('a/s', 10)).entries.map((e) => e.key)).toEqual(['a/sub/x']);
      expect(page1.entries[0].version).toEqual(await store.head('a-c'));
      await rejectsWith(store.list('', 0), 'INVALID_ARGUMENT');
      await rejectsWith(store.list('../', 10), 'INVALID_KEY');
      const v = (await store.head('a/1'))!;
      await rejectsWith(store.delete('a/1', 'v-stale'), 'CONFLICT');
      await store.delete('a/1', v.id);
      await store.delete('b');
      expect((await store.list('', 10)).entries.map((e) => e.key)).toEqual(['a-c', 'a/2', 'a/sub/x', 'ab']);
      expect(await store.head('a/1')).toBeNull();
    });

    it('should keep manifests per chunking and version, and never serve one for another version', async () => {
      const data = bytes(10_000);
      const fixed = fakeManifest(data.length);
      const cdc = fakeManifest(data.length, { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 });
      const v1 = await put(store, 'm', data, null, { manifest: fixed });
      expect(await store.getManifest('m', v1.id, chunkingId(fixed.chunking))).toEqual(fixed);
      expect(await store.getManifest('m', v1.id, chunkingId(cdc.chunking))).toBeNull();
      await store.putManifest('m', v1.id, cdc);
      expect(await store.getManifest('m', v1.id, chunkingId(cdc.chunking))).toEqual(cdc);
      expect(await store.listManifests('m', v1.id)).toEqual([chunkingId(cdc.chunking), chunkingId(fixed.chunking)].sort());
      await rejectsWith(store.putManifest('m', v1.id, fakeManifest(9_999)), 'INVALID_ARGUMENT');
      const v2 = await put(store, 'm', data, v1.id);
      await rejectsWith(store.getManifest('m', v1.id, chunkingId(fixed.chunking)), 'CONFLICT');
      await rejectsWith(store.listManifests('m', v1.id), 'CONFLICT');
      expect(await store.getManifest('m', v2.id, chunkingId(fixed.chunking))).toBeNull();
      expect(await store.listManifests('m', v2.id)).toEqual([]);
      await rejectsWith(store.putManifest('m', v1.id, fixed), 'CONFLICT');
      await rejectsWith(put(store, 'm2', data, null, { manifest: fakeManifest(5) }), 'INVALID_ARGUMENT');
    });

    it('should store, expire and sweep sessions with their staging data', async () => {
      const old = await store.createStaging(10);
      const live = await store.createStaging(10);
      await store.putSession(session('old_1', { stagingId: old.id, expires: 2000 }));
      await store.putSession(session('live-2', { stagingId: live.id, expires: 5000, state: { note: 'x' } }));
      expect(await store.getSession('live-2')).toEqual(session('live-2', { stagingId: live.id, expires: 5000, state: { note: 'x' } }));
      expect((await store.listSessions()).map((s) => s.id).sort()).toEqual(['live-2', 'old_1']);
      expect(await store.sweep(3000)).toEqual(['old_1']);
      expect(await store.getSession('old_1')).toBeNull();
      await rejectsWith(store.staging(old.id), 'NOT_FOUND');
      expect(await (await store.staging(live.id)).size()).toBe(10);
      await store.deleteSession('live-2');
      expect(await store.getSession('live-2')).toBeNull();
      await rejectsWith(store.putSession(session('../x')), 'INVALID_ARGUMENT');
      await rejectsWith(store.putSession(session('big', { state: { pad: 'x'.repeat(2_000_001) } })), 'LIMIT');
    });

    it('should keep named blobs with a session and drop them with it, by delete or by sweep', async () => {
      await store.putSession(session('b1', { expires: 2000 }));
      await store.putSession(session('b2', { expires: 9000 }));
      const sig = bytes(65_536 * 40); // one full signature batch: 65,536 chunks x (4 + 4 + 32) bytes
      await store.putSessionBlob('b1', 'sig-0', sig);
      await store.putSessionBlob('b1', 'plan', bytes(10));
      await store.putSessionBlob('b2', 'plan', new Uint8Array([1, 2]));
      expectBytes((await store.getSessionBlob('b1', 'sig-0'))!, sig);
      expect(await store.listSessionBlobs('b1')).toEqual(['plan', 'sig-0']);
      expect(await store.getSessionBlob('b1', 'nope')).toBeNull();
      await rejectsWith(store.putSessionBlob('b1', '../x', bytes(1)), 'INVALID_ARGUMENT');
      await store.putSessionBlob('b2', 'plan', new Uint8Array([3])); // replaces
      expectBytes((await store.getSessionBlob('b2', 'plan'))!, new Uint8Array([3]));
      expect(await store.sweep(3000)).toEqual(['b1']);
      expect(await store.listSessionBlobs('b1')).toEqual([]);
      await store.deleteSession('b2');
      expect(await store.getSessionBlob('b2', 'plan')).toBeNull();
    });

    it('should sweep a staging area no session refers to once it is a day old', async () => {
      const orphan = await store.createStaging(10);
      await store.sweep(Date.now());
      expect(await (await store.staging(orphan.id)).size()).toBe(10); // fresh: kept
      await store.sweep(Date.now() + 86_400_000 + 60_000);
      await rejectsWith(store.staging(orphan.id), 'NOT_FOUND');
    });

    it('should refuse hostile keys with INVALID_KEY and create nothing', async () => {
      const s = await store.createStaging(1);
      for (const key of HOSTILE_KEYS) {
        const e = await rejectsWith(store.commit(key, s.id, { expectedVersion: null }), 'INVALID_KEY');
        expect(e.message).toMatch(/key/);
        await rejectsWith(store.head(key), 'INVALID_KEY');
        await rejectsWith(store.read(key), 'INVALID_KEY');
        await rejectsWith(store.openInPlace(key, 'v'), 'INVALID_KEY');
      }
      expect((await store.list('', 1000)).entries).toEqual([]);
    });

    it('should rewrite in place: INCOMPLETE until commit, memmove-safe self copies, resize', async () => {
      const old = bytes(3 * COPY_PIECE); // 3 pieces, so the overlapping copy crosses piece boundaries
      const v1 = await put(store, 'ip', old, null);
      const h = await store.openInPlace('ip', v1.id);
      const mid = await store.head('ip');
      expect(mid?.incomplete).toBe(true);
      await rejectsWith(store.read('ip'), 'INCOMPLETE');
      await rejectsWith(store.readRange('ip', v1.id, 0, 1), 'INCOMPLETE');
      await rejectsWith(store.openInPlace('ip', v1.id), 'CONFLICT');
      // Shift everything right by 1000 (overlapping, so it must copy back to front), grow first.
      await h.resize(old.length + 1000);
      await h.copyFrom('ip', v1.id, 0, old.length, 1000);
      await h.writeAt(0, new Uint8Array(1000).fill(9));
      await rejectsWith(h.copyFrom('ip', 'v-other', 0, 1, 0), 'CONFLICT');
      await rejectsWith(store.commit('ip', h.id, { expectedVersion: 'v-other' }), 'CONFLICT');
      const v2 = await store.commit('ip', h.id, { expectedVersion: v1.id });
      expect(v2.incomplete).toBeUndefined();
      const got = await readAll(store, 'ip');
      expectBytes(got.subarray(1000), old);
      expectBytes(got.subarray(0, 1000), new Uint8Array(1000).fill(9));
      await rejectsWith(h.writeAt(0, new Uint8Array(1)), 'CONFLICT'); // the handle is spent
    });

    it('should keep a key INCOMPLETE after an in-place discard until a full push completes it', async () => {
      const v1 = await put(store, 'ip2', bytes(100), null);
      const h = await store.openInPlace('ip2', v1.id);
      await h.writeAt(0, bytes(10));
      await h.discard();
      const torn = (await store.head('ip2'))!;
      expect(torn.incomplete).toBe(true);
      await rejectsWith(store.read('ip2'), 'INCOMPLETE');
      await rejectsWith(put(store, 'ip2', bytes(5), v1.id), 'CONFLICT');
      const fresh = bytes(5);
      await put(store, 'ip2', fresh, torn.id);
      expectBytes(await readAll(store, 'ip2'), fresh);
    });
  });
}
