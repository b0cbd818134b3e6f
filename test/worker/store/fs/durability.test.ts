// fs store durability: the order of fsync and rename (through a recording
// facade), and failures (injected ENOSPC/EIO) that must leave the old version.
import { readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkingId } from '../../../../core/protocol/chunking.js';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { type FaultRule, errnoError, faultyFs, normalize } from './faults.js';
import { bytes, expectBytes, fakeManifest, put, readAll, rejectsWith, session } from '../helpers.js';

let dir: string;
let log: string[];
let rule: FaultRule;
let store: FsStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deltaflare-durable-'));
  log = [];
  rule = () => undefined;
  store = await FsStore.open(dir, { fs: faultyFs(dir, log, (op, path) => rule(op, path)) });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The log lines that matter for durability, normalized. */
const ordering = () => log.map(normalize).filter((l) => /^(fsync|fsyncDir|rename|unlink) |^write k\.img/.test(l));

describe('fs store durability', () => {
  it('should fsync the staged file, rename it over the key, fsync the folder, then write record and manifest durably', async () => {
    const v1 = await put(store, 'k.img', bytes(5000), null);
    log.length = 0;
    await put(store, 'k.img', bytes(5000), v1.id, { manifest: fakeManifest(5000) });
    const K = '.deltaflare/keys/*';
    const M = `${K}/manifests/v-*.fixed-4096.dfm`;
    expect(ordering()).toEqual([
      'fsync .deltaflare/staging/st-*',
      'rename .deltaflare/staging/st-* -> k.img',
      'fsyncDir .',
      `fsync ${K}/version.json.tmp`,
      `rename ${K}/version.json.tmp -> ${K}/version.json`,
      `fsyncDir ${K}`,
      `fsyncDir ${K}`, // the new manifests/ folder's entry
      `fsync ${M}.tmp`,
      `rename ${M}.tmp -> ${M}`,
      `fsyncDir ${K}/manifests`,
      `unlink ${K}/incomplete.json`, // no marker: ENOENT, harmless
    ]);
  });

  it('should write the in-place marker durably before the first byte of the key changes', async () => {
    const v1 = await put(store, 'k.img', bytes(5000), null);
    log.length = 0;
    const h = await store.openInPlace('k.img', v1.id);
    await h.writeAt(0, bytes(3));
    const K = '.deltaflare/keys/*';
    expect(ordering()).toEqual([`fsync ${K}/incomplete.json.tmp`, `rename ${K}/incomplete.json.tmp -> ${K}/incomplete.json`, `fsyncDir ${K}`, 'write k.img']);
    log.length = 0;
    await store.commit('k.img', h.id, { expectedVersion: v1.id });
    // fsync the data, then the record, and only then drop the marker.
    expect(ordering()).toEqual([
      'fsync k.img',
      `fsync ${K}/version.json.tmp`,
      `rename ${K}/version.json.tmp -> ${K}/version.json`,
      `fsyncDir ${K}`,
      `unlink ${K}/incomplete.json`,
      `fsyncDir ${K}`,
    ]);
  });

  it('should surface a full disk during staging writes as IO (status 507) and keep the old version', async () => {
    const old = bytes(100_000);
    const v1 = await put(store, 'k.img', old, null);
    rule = (op, path) => (op === 'write' && path.startsWith('.deltaflare/staging/') ? errnoError('ENOSPC', 'no space left on device') : undefined);
    const s = await store.createStaging(200_000);
    const e = await rejectsWith(s.writeAt(0, bytes(200_000)), 'IO');
    expect((e.cause as { code: string }).code).toBe('ENOSPC');
    expect(e.status).toBe(507);
    expect(await store.head('k.img')).toEqual(v1);
    expectBytes(await readAll(store, 'k.img'), old);
  });

  it.each([
    ['fsync', '.deltaflare/staging/', 'EIO'],
    ['rename', 'k.img', 'ENOSPC'],
    ['fsyncDir', '.', 'EIO'],
  ])('should fail the commit with IO when %s of %s fails before the swap is done, leaving the key readable', async (op, prefix, code) => {
    const old = bytes(10_000);
    const v1 = await put(store, 'k.img', old, null);
    const next = bytes(10_000);
    const s = await store.createStaging(next.length);
    await s.writeAt(0, next);
    rule = (o, path) => (o === op && path.startsWith(prefix) ? errnoError(code) : undefined);
    const e = await rejectsWith(store.commit('k.img', s.id, { expectedVersion: v1.id }), 'IO');
    expect((e.cause as { code: string }).code).toBe(code);
    rule = () => undefined;
    // fsync and rename failures leave the old bytes; an fsyncDir failure comes after the rename, so the
    // new bytes are there, but either way the content is one complete version with a consistent head.
    const got = await readAll(store, 'k.img');
    expectBytes(got, op === 'fsyncDir' ? next : old);
    expect((await store.head('k.img'))?.size).toBe(10_000);
    if (op !== 'fsyncDir') expect(await store.head('k.img')).toEqual(v1);
  });

  it('should commit but read as an h- version with no stale manifest if the record write fails after the rename', async () => {
    const m1 = fakeManifest(5000);
    const v1 = await put(store, 'k.img', bytes(5000), null, { manifest: m1 });
    rule = (op, path) => (op === 'write' && path.includes('version.json.tmp-') ? errnoError('ENOSPC') : undefined);
    const next = bytes(5000);
    const v2 = await put(store, 'k.img', next, v1.id, { manifest: fakeManifest(5000), root: 'cd'.repeat(32) });
    rule = () => undefined;
    expect(v2.id).toMatch(/^h-/);
    expect(v2.root).toBeUndefined();
    expect(await store.head('k.img')).toEqual(v2);
    expectBytes(await readAll(store, 'k.img'), next);
    // The manifest belongs to the old version id; the new one has none yet (the server will build it).
    expect(await store.getManifest('k.img', v2.id, chunkingId(m1.chunking))).toBeNull();
    await rejectsWith(store.getManifest('k.img', v1.id, chunkingId(m1.chunking)), 'CONFLICT');
    // And a fresh store on the same directory agrees.
    const again = await FsStore.open(dir);
    expect(await again.head('k.img')).toEqual(v2);
  });

  it('should leave no temp file behind when a metadata write fails', async () => {
    await put(store, 'k.img', bytes(10), null);
    rule = (op, path) => (op === 'write' && path.includes('.json.tmp-') ? errnoError('EIO') : undefined);
    await rejectsWith(store.putSession(session('s1')), 'IO');
    const names = await import('node:fs/promises').then((f) => f.readdir(join(dir, '.deltaflare', 'sessions')));
    expect(names).toEqual([]);
    expect(await readFile(join(dir, 'k.img'))).toHaveLength(10);
  });
});

describe('fs store session state', () => {
  const S = '.deltaflare/sessions';
  const sessionOps = () => log.map(normalize).filter((l) => /^(fsync|fsyncDir|rename) /.test(l) && !l.includes('.deltaflare/keys'));

  it('should write session records, blobs and staged parts without fsync (temp + rename) when the boot id is known', async () => {
    const booted = await FsStore.open(dir, { fs: faultyFs(dir, log, (op, path) => rule(op, path)), bootId: 'boot-a' });
    const staging = await booted.createStaging(100);
    log.length = 0;
    await booted.putSession(session('s1', { stagingId: staging.id }));
    await booted.putSessionBlob('s1', 'part-0', bytes(40));
    await staging.writeAt(0, bytes(10));
    await staging.flush();
    expect(sessionOps()).toEqual([`rename ${S}/s1.json.tmp -> ${S}/s1.json`, `rename ${S}/s1.blobs/part-0.tmp -> ${S}/s1.blobs/part-0`]);
    expect(log.filter((l) => l.startsWith('write ')).length).toBe(3); // the record, the blob and the part's bytes: each written whole
  });

  it('should fsync every session write as before when the boot id is unknown', async () => {
    const unbooted = await FsStore.open(dir, { fs: faultyFs(dir, log, (op, path) => rule(op, path)), bootId: null });
    const staging = await unbooted.createStaging(100);
    log.length = 0;
    await unbooted.putSession(session('s1', { stagingId: staging.id }));
    await unbooted.putSessionBlob('s1', 'part-0', bytes(40));
    await staging.writeAt(0, bytes(10));
    await staging.flush();
    expect(sessionOps()).toEqual([
      `fsync ${S}/s1.json.tmp`,
      `rename ${S}/s1.json.tmp -> ${S}/s1.json`,
      `fsyncDir ${S}`,
      `fsyncDir ${S}`, // the new s1.blobs/ folder's entry
      `fsync ${S}/s1.blobs/part-0.tmp`,
      `rename ${S}/s1.blobs/part-0.tmp -> ${S}/s1.blobs/part-0`,
      `fsyncDir ${S}/s1.blobs`,
      'fsync .deltaflare/staging/st-*',
    ]);
  });

  it('should read a session written under another boot as lost, list it as expired and sweep it with its blobs and staging', async () => {
    const before = await FsStore.open(dir, { bootId: 'boot-a' });
    const staging = await before.createStaging(100);
    await before.putSession(session('s1', { stagingId: staging.id, expires: 10_000 }));
    await before.putSessionBlob('s1', 'part-0', bytes(40));
    expect((await before.getSession('s1'))?.lost).toBeUndefined();

    const after = await FsStore.open(dir, { bootId: 'boot-b' }); // the machine restarted
    const s = await after.getSession('s1');
    expect(s?.lost).toMatch(/machine restarted/);
    expect(s?.stagingId).toBe(staging.id);
    expect((await after.listSessions()).filter((x) => x.expires <= 5_000 || x.lost).map((x) => x.id)).toEqual(['s1']);
    expect(await after.sweep(5_000)).toEqual(['s1']);
    expect(await after.getSession('s1')).toBeNull();
    expect(await after.listSessionBlobs('s1')).toEqual([]);
    await rejectsWith(after.staging(staging.id), 'NOT_FOUND');
  });

  it('should keep a session written with fsyncs (no stamp) across boots', async () => {
    const unbooted = await FsStore.open(dir, { bootId: null });
    await unbooted.putSession(session('s1', { expires: 10_000 }));
    const later = await FsStore.open(dir, { bootId: 'boot-b' });
    expect((await later.getSession('s1'))?.lost).toBeUndefined();
    expect((await later.listSessions()).filter((x) => x.expires <= 5_000 || x.lost)).toEqual([]);
    // A stamped record read by a store that cannot read the boot id is lost too: nothing vouches for it.
    await later.putSession(session('s2', { expires: 10_000 }));
    expect((await (await FsStore.open(dir, { bootId: null })).getSession('s2'))?.lost).toMatch(/machine restarted/);
  });
});
