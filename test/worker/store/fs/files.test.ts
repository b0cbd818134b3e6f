// fs store behaviour that only a file system has: the on-disk layout,
// hand-placed and changed-behind-the-back files, symbolic links, the in-place
// marker surviving a restart, and open readers during a rewrite.
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkingId } from '../../../../core/protocol/chunking.js';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { bytes, drain, expectBytes, fakeManifest, put, readAll, rejectsWith } from '../helpers.js';

let root: string;
let dir: string;
let outside: string;
let store: FsStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'deltaflare-files-'));
  dir = join(root, 'data');
  outside = join(root, 'outside');
  await mkdir(outside);
  store = await FsStore.open(dir);
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('fs store files', () => {
  it('should keep a key as a plain byte-identical file at <dir>/<key> and hide .deltaflare', async () => {
    const data = bytes(70_000);
    await put(store, 'images/disk.img', data, null, { manifest: fakeManifest(data.length) });
    expectBytes(await readFile(join(dir, 'images', 'disk.img')), data);
    expect((await readdir(dir)).sort()).toEqual(['.deltaflare', 'images']);
    expect((await readdir(join(dir, '.deltaflare'))).sort()).toEqual(['keys', 'sessions', 'staging']);
    expect((await store.list('', 100)).entries.map((e) => e.key)).toEqual(['images/disk.img']);
  });

  it('should treat a hand-placed file as a key with a stable stat-derived version', async () => {
    const data = bytes(9000);
    await mkdir(join(dir, 'by'), { recursive: true });
    await writeFile(join(dir, 'by', 'hand.bin'), data);
    const v = (await store.head('by/hand.bin'))!;
    expect(v).toMatchObject({ size: 9000 });
    expect(v.id).toMatch(/^h-[0-9a-f]{32}$/);
    expect((await FsStore.open(dir).then((s) => s.head('by/hand.bin')))?.id).toBe(v.id);
    expectBytes(await readAll(store, 'by/hand.bin'), data);
    const m = fakeManifest(9000);
    await store.putManifest('by/hand.bin', v.id, m); // the server builds it once on first use
    expect(await store.getManifest('by/hand.bin', v.id, chunkingId(m.chunking))).toEqual(m);
    const v2 = await put(store, 'by/hand.bin', bytes(10), v.id);
    expect(v2.id).toMatch(/^v-/);
  });

  it('should give a file changed behind the store a new version, even with size and mtime restored exactly', async () => {
    const m = fakeManifest(8192);
    // A whole-millisecond mtime survives utimes exactly, so only ctime can tell the versions apart.
    const t = new Date(1_700_000_000_000);
    const s = await store.createStaging(8192);
    await s.writeAt(0, bytes(8192));
    await utimes(join(dir, '.deltaflare', 'staging', s.id), t, t);
    const v1 = await store.commit('k', s.id, { expectedVersion: null, manifest: m });
    const path = join(dir, 'k');
    expect((await stat(path, { bigint: true })).mtimeNs).toBe(1_700_000_000_000_000_000n);
    await writeFile(path, bytes(8192)); // same size, same inode
    await utimes(path, t, t); // same mtime to the nanosecond
    const v2 = (await store.head('k'))!;
    expect(v2.id).not.toBe(v1.id);
    expect(v2.id).toMatch(/^h-/);
    expect(v2.root).toBeUndefined();
    await rejectsWith(store.getManifest('k', v1.id, chunkingId(m.chunking)), 'CONFLICT');
    expect(await store.getManifest('k', v2.id, chunkingId(m.chunking))).toBeNull();
    await rejectsWith(store.readRange('k', v1.id, 0, 10), 'CONFLICT');
    await rejectsWith(put(store, 'k', bytes(5), v1.id), 'CONFLICT');
    // The same trick on a hand-placed file (no record): its stat-derived id must move too.
    await store.putManifest('k', v2.id, m);
    await writeFile(path, bytes(8192));
    await utimes(path, t, t);
    const v3 = (await store.head('k'))!;
    expect(v3.id).not.toBe(v2.id);
    expect(await store.getManifest('k', v3.id, chunkingId(m.chunking))).toBeNull();
  });

  it('should never write through a parent directory that is a symbolic link out of the store', async () => {
    await symlink(outside, join(dir, 'evil'));
    await writeFile(join(outside, 'x'), 'secret');
    const e = await rejectsWith(put(store, 'evil/x', bytes(10), null), 'INVALID_KEY');
    expect(e.message).toMatch(/"evil" is a symbolic link/);
    await rejectsWith(put(store, 'evil/new/deeper', bytes(10), null), 'INVALID_KEY');
    await rejectsWith(store.read('evil/x'), 'INVALID_KEY');
    await rejectsWith(store.head('evil/x'), 'INVALID_KEY');
    expect(await readdir(outside)).toEqual(['x']);
    expect(await readFile(join(outside, 'x'), 'utf8')).toBe('secret');
    expect((await store.list('', 100)).entries).toEqual([]);
    expect((await store.list('evil/', 100)).entries).toEqual([]);
  });

  it('should neither read nor write through a key that is itself a symbolic link', async () => {
    await writeFile(join(outside, 'target'), 'outside bytes');
    await symlink(join(outside, 'target'), join(dir, 'link'));
    await rejectsWith(store.read('link'), 'INVALID_KEY');
    await rejectsWith(store.openInPlace('link', 'h-x'), 'INVALID_KEY');
    await rejectsWith(put(store, 'link', bytes(10), null), 'INVALID_KEY'); // head refuses the link, so a commit does too
    expect(await readFile(join(outside, 'target'), 'utf8')).toBe('outside bytes');
    expect((await lstat(join(dir, 'link'))).isSymbolicLink()).toBe(true);
  });

  it('should refuse a key under a path that is a file, and a key that is a folder', async () => {
    await put(store, 'a', bytes(3), null);
    await rejectsWith(put(store, 'a/b', bytes(3), null), 'CONFLICT');
    await put(store, 'd/e', bytes(3), null);
    expect(await store.head('d')).toBeNull();
    await rejectsWith(put(store, 'd', bytes(3), null), 'CONFLICT');
  });

  it('should keep a key INCOMPLETE across a restart mid in-place push, and let the push be reopened and committed', async () => {
    const old = bytes(50_000);
    const v1 = await put(store, 'disk', old, null);
    const h = await store.openInPlace('disk', v1.id);
    await h.writeAt(0, new Uint8Array(100).fill(1));
    // "Crash": a new store on the same directory, the old one forgotten.
    const after = await FsStore.open(dir);
    expect((await after.head('disk'))?.incomplete).toBe(true);
    await rejectsWith(after.read('disk'), 'INCOMPLETE');
    const resumed = await after.staging(h.id);
    await resumed.writeAt(100, new Uint8Array(100).fill(2));
    const v2 = await after.commit('disk', h.id, { expectedVersion: v1.id });
    const got = await readAll(after, 'disk');
    expectBytes(got.subarray(0, 200), new Uint8Array(200).fill(1).fill(2, 100));
    expectBytes(got.subarray(200), old.subarray(200));
    expect(await after.head('disk')).toEqual(v2);
    expect(await readdir(join(dir, '.deltaflare', 'keys', (await readdir(join(dir, '.deltaflare', 'keys')))[0]))).not.toContain('incomplete.json');
  });

  it('should fail an open read stream with INCOMPLETE when an in-place rewrite starts, never passing torn bytes', async () => {
    const old = bytes(2 << 20); // 8 pieces of 256 KiB
    const v1 = await put(store, 'disk', old, null);
    const reader = (await store.read('disk')).body.getReader();
    const first = await reader.read();
    expectBytes(first.value!, old.subarray(0, first.value!.length));
    const h = await store.openInPlace('disk', v1.id);
    await h.writeAt(0, new Uint8Array(old.length)); // zero the whole file
    // A piece the stream had already buffered (read before the rewrite began) may still arrive; then it must fail.
    let delivered = first.value!.length;
    let error: unknown = null;
    for (;;) {
      const r = await reader.read().catch((err: unknown) => {
        error = err;
        return null;
      });
      if (!r || r.done) break;
      expectBytes(r.value, old.subarray(delivered, delivered + r.value.length));
      delivered += r.value.length;
    }
    expect((error as { code?: string })?.code).toBe('INCOMPLETE');
    expect(delivered).toBeLessThan(old.length);
  });

  it('should let a reader that opened the old version finish it after a commit replaces the file', async () => {
    const old = bytes(2 << 20);
    const v1 = await put(store, 'disk', old, null);
    const { body } = await store.read('disk');
    const next = bytes(1 << 20);
    await put(store, 'disk', next, v1.id);
    expectBytes(await drain(body), old);
    expectBytes(await readAll(store, 'disk'), next);
  });

  it('should refuse to commit a staging area with writes in flight, and refuse writes once its commit began', async () => {
    const data = bytes(1 << 20);
    const s = await store.createStaging(data.length);
    const writing = s.writeAt(0, data); // in flight: not awaited yet
    await rejectsWith(store.commit('k', s.id, { expectedVersion: null }), 'CONFLICT');
    await writing;
    const committing = store.commit('k', s.id, { expectedVersion: null });
    await Promise.resolve(); // let the commit take the key lock and seal the staging area
    await rejectsWith(s.writeAt(0, bytes(10)), 'CONFLICT');
    await committing;
    expectBytes(await readAll(store, 'k'), data);
  });
});
