// Whole syncs through app.request over a real fs store: first upload, an
// edited second version sending only changed chunks, reads with Range, the
// manifest of a hand-placed file built once, and a basis of another key.
import { DEFAULT_LIMITS } from '../../core/base/limits.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { FileInfo, FileList, InfoResponse, SessionStatus } from '../../core/protocol/messages.js';
import { download, json, push, sendAll, sendCommit, start } from './client.js';
import { concat, kernels as k, makeApp, randomBytes, sameBytes } from './setup.js';

const MiB = 1 << 20;

describe('endpoint sync', () => {
  it('should advertise its limits', async () => {
    const { send } = await makeApp({ limits: { partSize: 4 * MiB } });
    const info = await json<InfoResponse>(await send('/v1/info'));
    expect(info).toEqual({ protocol: 1, limits: { ...DEFAULT_LIMITS, partSize: 4 * MiB } });
  });

  it('should store a first upload and send only changed chunks for an edited second version', async () => {
    const { send } = await makeApp();
    const v1 = randomBytes(4 * MiB, 1);
    const first = await push(send, k, v1, { key: 'videos/a.bin' });
    expect(first.sync.session.basis).toBeNull();
    expect(first.sync.literalBytes).toBe(v1.length);
    expect(sameBytes((await download(send, 'videos/a.bin')).bytes, v1)).toBe('same');

    // Insert 1000 bytes in the middle, overwrite 300 bytes near the end.
    const v2 = concat(v1.subarray(0, 2 * MiB), randomBytes(1000, 2), v1.subarray(2 * MiB));
    v2.set(randomBytes(300, 3), v2.length - 100_000);
    const second = await push(send, k, v2, { key: 'videos/a.bin' });
    expect(second.sync.session.basis).toEqual({ key: 'videos/a.bin', version: first.info.version, size: v1.length });
    // Two edits touch about 2-4 chunks of ~8 KiB each.
    expect(second.sync.literalBytes).toBeLessThan(100_000);
    expect(second.info).toMatchObject({ key: 'videos/a.bin', size: v2.length, root: second.sync.commit.root });
    expect(sameBytes((await download(send, 'videos/a.bin')).bytes, v2)).toBe('same');
  });

  it('should serve Range reads with 206, suffix ranges, HEAD headers and 416 past the end', async () => {
    const { send } = await makeApp();
    const data = randomBytes(100_000, 4);
    const { info } = await push(send, k, data, { key: 'r.bin' });
    const mid = await download(send, 'r.bin', { Range: 'bytes=1000-1999' });
    expect(mid.status).toBe(206);
    expect(mid.res.headers.get('content-range')).toBe('bytes 1000-1999/100000');
    expect(sameBytes(mid.bytes, data.subarray(1000, 2000))).toBe('same');
    const tail = await download(send, 'r.bin', { Range: 'bytes=-10' });
    expect(sameBytes(tail.bytes, data.subarray(99_990))).toBe('same');
    const open = await download(send, 'r.bin', { Range: 'bytes=99000-' });
    expect(open.bytes.length).toBe(1000);
    const past = await send('/v1/files/r.bin', { headers: { Range: 'bytes=100000-' } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */100000');
    const head = await send('/v1/files/r.bin', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('100000');
    expect(head.headers.get('x-deltaflare-version')).toBe(info.version);
    expect(head.headers.get('x-deltaflare-root')).toBe(info.root);
    expect(await head.text()).toBe('');
  });

  it('should build the manifest of a hand-placed file once and match later sessions from it', async () => {
    const { send, dir, store } = await makeApp();
    const v1 = randomBytes(2 * MiB, 5);
    writeFileSync(join(dir, 'placed.bin'), v1);
    const puts = vi.spyOn(store, 'putManifest');
    const reads = vi.spyOn(store, 'read');
    const gets = vi.spyOn(store, 'getManifest');
    const v2 = concat(v1.subarray(0, MiB), randomBytes(500, 6), v1.subarray(MiB));
    const a = await start(send, k, v2, { key: 'placed.bin', batch: 20 }); // ~13 match batches
    expect(puts).toHaveBeenCalledTimes(1);
    expect(reads).toHaveBeenCalledTimes(1);
    // A second session on the same version (and chunking) neither reads the file nor stores a manifest again,
    // and its batches use the cached weak index without loading the manifest again.
    const b = await start(send, k, v2, { key: 'placed.bin', batch: 20 });
    expect(puts).toHaveBeenCalledTimes(1);
    expect(reads).toHaveBeenCalledTimes(1);
    expect(gets).toHaveBeenCalledTimes(1);
    expect(b.literalBytes).toBe(a.literalBytes);
    expect(a.literalBytes).toBeLessThan(40_000);
    await sendAll(send, a);
    await json<FileInfo>(await sendCommit(send, a));
    expect(reads).toHaveBeenCalledTimes(1); // the commit copied ranges without reading them through store.read
    expect(sameBytes((await download(send, 'placed.bin')).bytes, v2)).toBe('same');
  });

  it('should rebuild the manifest of a version edited on disk by another tool, and store the pushed bytes exactly', async () => {
    const { send, dir } = await makeApp();
    const v1 = randomBytes(2 * MiB, 40);
    const { info } = await push(send, k, v1, { key: 'edited.bin' });
    // Another tool rewrites 64 KiB in place: same size; the stored manifest no longer describes the bytes.
    const onDisk = v1.slice();
    onDisk.set(randomBytes(64 * 1024, 41), MiB);
    writeFileSync(join(dir, 'edited.bin'), onDisk);
    const head = await send('/v1/files/edited.bin', { method: 'HEAD' });
    expect(head.headers.get('x-deltaflare-version')).not.toBe(info.version); // a new (hand-placed) version
    // A push diffed against what is on disk: matches come from a manifest built from those bytes, not the stale one.
    const v2 = concat(onDisk.subarray(0, 1000), randomBytes(700, 42), onDisk.subarray(1000));
    const { sync } = await push(send, k, v2, { key: 'edited.bin' });
    expect(sync.literalBytes).toBeLessThan(60_000);
    expect(sameBytes((await download(send, 'edited.bin')).bytes, v2)).toBe('same');
  });

  it('should build a manifest under fixed chunking and sync by blocks', async () => {
    const { send } = await makeApp();
    const spec = { kind: 'fixed', block: 4096 } as const;
    const v1 = randomBytes(MiB + 123, 7);
    await push(send, k, v1, { key: 'f.img' }); // stored with the default CDC manifest
    const v2 = v1.slice();
    v2.set(randomBytes(10, 8), 50_000); // one block changes
    const { sync } = await push(send, k, v2, { key: 'f.img', chunking: spec });
    expect(sync.literalBytes).toBe(4096);
    expect(sameBytes((await download(send, 'f.img')).bytes, v2)).toBe('same');
  });

  it('should match against another key as basis and leave that key unchanged', async () => {
    const { send } = await makeApp();
    const base = randomBytes(MiB, 9);
    const b = await push(send, k, base, { key: 'base.bin' });
    const copy = concat(randomBytes(100, 10), base);
    const { sync, info } = await push(send, k, copy, { key: 'copy.bin', basis: 'base.bin' });
    expect(sync.session.basis?.key).toBe('base.bin');
    expect(sync.literalBytes).toBeLessThan(70_000);
    expect(sameBytes((await download(send, 'copy.bin')).bytes, copy)).toBe('same');
    expect(sameBytes((await download(send, 'base.bin')).bytes, base)).toBe('same');
    const list = await json<FileList>(await send('/v1/files'));
    expect(list.files.map((f) => [f.key, f.version])).toEqual([
      ['base.bin', b.info.version],
      ['copy.bin', info.version],
    ]);
  });

  it('should sync deflated parts, empty files and duplicated content (dups)', async () => {
    const { send } = await makeApp();
    const block = randomBytes(64 * 1024, 11);
    const text = new TextEncoder().encode('hello deltaflare '.repeat(20_000));
    const data = concat(block, text, block, block);
    const { sync } = await push(send, k, data, { key: 'd.bin', deflate: true });
    expect(sync.plan.dups.length).toBeGreaterThan(0);
    expect(sameBytes((await download(send, 'd.bin')).bytes, data)).toBe('same');
    await push(send, k, new Uint8Array(0), { key: 'empty' });
    expect((await download(send, 'empty')).bytes.length).toBe(0);
  });

  it('should list with a cursor and delete files (If-Match guarding the version)', async () => {
    const { send } = await makeApp();
    const versions: string[] = [];
    for (const key of ['l/a', 'l/b', 'l/c', 'm']) versions.push((await push(send, k, randomBytes(1000, key.length), { key })).info.version);
    const page1 = await json<FileList>(await send('/v1/files?prefix=l/&limit=2'));
    expect(page1.files.map((f) => f.key)).toEqual(['l/a', 'l/b']);
    const page2 = await json<FileList>(await send(`/v1/files?prefix=l/&limit=2&cursor=${encodeURIComponent(page1.cursor!)}`));
    expect(page2).toEqual({ files: [expect.objectContaining({ key: 'l/c', size: 1000 })] });
    const stale = await send('/v1/files/l/a', { method: 'DELETE', headers: { 'If-Match': '"v-0"' } });
    expect(stale.status).toBe(409);
    expect((await send('/v1/files/l/a', { method: 'DELETE', headers: { 'If-Match': `"${versions[0]}"` } })).status).toBe(204);
    expect((await send('/v1/files/m', { method: 'DELETE' })).status).toBe(204);
    expect((await json<FileList>(await send('/v1/files'))).files.map((f) => f.key)).toEqual(['l/b', 'l/c']);
    expect((await send('/v1/files/m')).status).toBe(404);
  });

  it('should report what landed for resuming', async () => {
    const { send } = await makeApp({ limits: { partSize: 256 * 1024 } });
    const s = await start(send, k, randomBytes(MiB, 12), { key: 's.bin' });
    await send(`/v1/sessions/${s.session.id}/parts/1`, { method: 'PUT', body: s.partBodies[1] });
    const status = await json<SessionStatus>(await send(`/v1/sessions/${s.session.id}`));
    expect(status).toMatchObject({ key: 's.bin', size: MiB, plan: false, parts: [1], signatures: [[0, s.chunks.lengths.length]] });
  });
});
