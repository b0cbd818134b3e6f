// Lifecycle hooks and per-upload metadata through the endpoint (fs store,
// app.request): metadata checked when the session opens, stored with the
// version, answered by the commit, HEAD, GET, the listing and the manifest
// headers; onSessionCreate may refuse with its own 4xx; onCommit sees the
// durable version; onSessionExpire the sessions the sweep removed.
import { describe, expect, it } from 'vitest';
import { decodeMetadataHeader, METADATA_HEADER } from '../../core/protocol/metadata.js';
import type { FileList } from '../../core/protocol/messages.js';
import type { CommitEvent, SessionCreateEvent, SessionExpireEvent } from '../../worker/hooks.js';
import { expectError, json, push, start } from './client.js';
import { kernels as k, makeApp, randomBytes } from './setup.js';

describe('hooks and metadata', () => {
  it("should store a push's metadata with its version and answer it everywhere the version is described", async () => {
    const commits: CommitEvent[] = [];
    const created: SessionCreateEvent[] = [];
    const { send } = await makeApp({ hooks: { onCommit: (c) => void commits.push(c), onSessionCreate: (e) => void created.push(e) } });
    const metadata = { owner: 'ana', 'build.id': '412', title: 'été ✓' };
    const data = randomBytes(300_000, 1);
    const { info } = await push(send, k, data, { key: 'm/a.bin', metadata });
    expect(info.metadata).toEqual(metadata);
    expect(created).toMatchObject([{ key: 'm/a.bin', size: data.length, metadata }]);
    expect(created[0].request.headers.get('content-type')).toContain('json');
    expect(commits).toEqual([{ key: 'm/a.bin', version: info.version, size: data.length, root: info.root, metadata }]);
    for (const method of ['HEAD', 'GET']) {
      const res = await send('/v1/files/m/a.bin', { method });
      expect(decodeMetadataHeader(res.headers.get(METADATA_HEADER))).toEqual(metadata);
    }
    expect((await json<FileList>(await send('/v1/files?prefix=m/'))).files[0].metadata).toEqual(metadata);
    const manifest = await send('/v1/manifests/m/a.bin');
    expect(decodeMetadataHeader(manifest.headers.get(METADATA_HEADER))).toEqual(metadata);
    // The next push without metadata: the version has none.
    const second = await push(send, k, randomBytes(1000, 2), { key: 'm/a.bin' });
    expect(second.info.metadata).toBeUndefined();
    expect((await send('/v1/files/m/a.bin', { method: 'HEAD' })).headers.get(METADATA_HEADER)).toBeNull();
  });

  it('should refuse malformed metadata when the session opens, naming the rule', async () => {
    const { send } = await makeApp();
    const open = (metadata: unknown) =>
      send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'x', size: 1, chunking: { kind: 'fixed', block: 4096 }, metadata }) });
    expect(await expectError(open(['a']), 400, 'INVALID_ARGUMENT')).toContain('must be an object of string values');
    expect(await expectError(open({ n: 1 }), 400, 'INVALID_ARGUMENT')).toContain('value of "n" is a number');
    expect(await expectError(open({ 'bad name': 'x' }), 400, 'INVALID_ARGUMENT')).toContain('is not 1..64 of [A-Za-z0-9._-]');
    expect(await expectError(open({ big: 'x'.repeat(1100) }), 400, 'INVALID_ARGUMENT')).toContain('above the limit 1024');
    expect(await expectError(open(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, '']))), 400, 'INVALID_ARGUMENT')).toContain(
      '33 pairs, above the limit 32',
    );
  });

  it('should answer a refusal of onSessionCreate with its status and message, and open nothing', async () => {
    const { send, store } = await makeApp({
      hooks: {
        onSessionCreate: ({ size, metadata }) => {
          if (size > 100_000) return { status: 413, message: 'files over 100 kB need a paid plan' };
          if (!metadata?.owner) throw { status: 422, message: 'say who owns it' };
        },
      },
    });
    const open = (size: number, metadata?: object) =>
      send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'r.bin', size, chunking: { kind: 'fixed', block: 4096 }, metadata }) });
    expect(await expectError(open(200_000, { owner: 'a' }), 413, 'FORBIDDEN')).toBe('files over 100 kB need a paid plan');
    expect(await expectError(open(10), 422, 'FORBIDDEN')).toBe('say who owns it');
    expect(await store.listSessions()).toEqual([]);
    expect((await open(10, { owner: 'a' })).status).toBe(201);
  });

  it('should tell onSessionExpire of sessions the sweep removed, with their metadata, and log a failing onCommit without undoing the commit', async () => {
    let now = Date.now();
    const expired: SessionExpireEvent[] = [];
    const logged: unknown[] = [];
    const { send, endpoint } = await makeApp({
      now: () => now,
      log: (e) => logged.push(e),
      hooks: {
        onSessionExpire: (e) => void expired.push(e),
        onCommit: () => {
          throw new Error('queue down');
        },
      },
    });
    const s = await start(send, k, randomBytes(5000, 3), { key: 'e.bin', metadata: { job: '7' } });
    now += 8 * 86_400_000; // past the session's lifetime
    await endpoint.sweep(now);
    expect(expired).toEqual([{ id: s.session.id, key: 'e.bin', size: 5000, metadata: { job: '7' } }]);
    now = Date.now();
    const { info } = await push(send, k, randomBytes(5000, 4), { key: 'c.bin' });
    expect(info.version).toMatch(/^v-/);
    expect((await send('/v1/files/c.bin', { method: 'HEAD' })).status).toBe(200);
    expect(logged.map((e) => (e as Error).message)).toEqual(['queue down']);
  });
});
