// Open sessions per client: the limit, its value in the message, and the ways
// a session stops counting (commit, DELETE, expiry); per client address on a
// real server.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import { createApp } from '../../../worker/http/app.js';
import { serve } from '../../../worker/node/serve.js';
import { FsStore } from '../../../worker/store/fs/store.js';
import { expectError, json, overHttp, sendAll, sendCommit, start, type Send, typed } from '../client.js';
import { kernels as k, randomBytes, tempDir } from '../setup.js';

const create = (send: Send, key: string, ip?: string, size = 100) =>
  send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key, size, chunking: DEFAULT_CHUNKING }), headers: ip ? { 'cf-connecting-ip': ip } : {} });

describe('sessions per client', () => {
  it('should refuse a session above maxSessionsPerClient with 429 naming the limit, per client', async () => {
    let now = Date.now();
    const store = await FsStore.open(tempDir());
    const app = createApp({ store, kernels: k, maxSessionsPerClient: 2, limits: { sessionTtlSeconds: 60 }, now: () => now, log: () => undefined });
    const send: Send = async (path, init) => app.request(path, typed(init));
    const a = await json<{ id: string }>(await create(send, 'a', '10.0.0.1'), 201);
    await json(await create(send, 'b', '10.0.0.1'), 201);
    const msg = await expectError(create(send, 'c', '10.0.0.1'), 429, 'TOO_MANY_SESSIONS');
    expect(msg).toContain('10.0.0.1 has 2 open sessions, the limit maxSessionsPerClient 2');
    await json(await create(send, 'c', '10.0.0.2'), 201); // another client

    // An aborted session stops counting.
    expect((await send(`/v1/sessions/${a.id}`, { method: 'DELETE' })).status).toBe(204);
    await json(await create(send, 'd', '10.0.0.1'), 201);
    await expectError(create(send, 'e', '10.0.0.1'), 429, 'TOO_MANY_SESSIONS');

    // Sessions left alone expire with the session TTL and stop counting; one touched lives on.
    now += 61_000;
    await json(await create(send, 'f', '10.0.0.1'), 201);
    const g = await json<{ id: string }>(await create(send, 'g', '10.0.0.1'), 201);
    now += 40_000;
    expect((await send(`/v1/sessions/${g.id}`)).status).toBe(200); // extends g
    now += 30_000; // f expired, g not
    await json(await create(send, 'h', '10.0.0.1'), 201);
    await expectError(create(send, 'i', '10.0.0.1'), 429, 'TOO_MANY_SESSIONS');
  });

  it('should count by socket address on a real server, and free a slot on commit', async () => {
    const server = await serve({ dir: tempDir(), port: 0, kernels: k, maxSessionsPerClient: 1 });
    try {
      const send = overHttp(server.url);
      const s = await start(send, k, randomBytes(50_000, 1), { key: 'one.bin' });
      // A spoofed CF-Connecting-IP does not make another client on Node.
      await expectError(create(send, 'two.bin', '203.0.113.9'), 429, 'TOO_MANY_SESSIONS');
      await sendAll(send, s);
      await json(await sendCommit(send, s));
      await json(await create(send, 'two.bin'), 201);
    } finally {
      await server.close();
    }
  });

  it('should free a slot when a session reaches maxSessionLifetimeSeconds, however active', async () => {
    let now = Date.now();
    const store = await FsStore.open(tempDir());
    const app = createApp({
      store,
      kernels: k,
      maxSessionsPerClient: 1,
      limits: { sessionTtlSeconds: 100, maxSessionLifetimeSeconds: 150 },
      now: () => now,
      log: () => undefined,
    });
    const send: Send = async (path, init) => app.request(path, typed(init));
    const s = await json<{ id: string }>(await create(send, 'life.bin', '198.51.100.9'), 201);
    now += 90_000;
    await send(`/v1/sessions/${s.id}`, { headers: { 'cf-connecting-ip': '198.51.100.9' } }); // a request: the idle TTL would run to 190 s
    now += 50_000; // 140 s: still open
    await expectError(create(send, 'life2.bin', '198.51.100.9'), 429, 'TOO_MANY_SESSIONS');
    now += 11_000; // 151 s: past the lifetime, not the idle TTL
    await expectError(send(`/v1/sessions/${s.id}`), 410, 'SESSION_EXPIRED');
    expect((await create(send, 'life2.bin', '198.51.100.9')).status).toBe(201);
  });

  it('should refuse a session whose size would take the client past maxStagedBytesPerClient, naming it', async () => {
    const store = await FsStore.open(tempDir());
    const app = createApp({ store, kernels: k, limits: { maxStagedBytesPerClient: 1_000_000 }, log: () => undefined });
    const send: Send = async (path, init) => app.request(path, typed(init));
    const a = await json<{ id: string }>(await create(send, 'a', '10.0.0.1', 600_000), 201);
    const msg = await expectError(create(send, 'b', '10.0.0.1', 500_000), 429, 'TOO_MANY_SESSIONS');
    expect(msg).toContain('maxStagedBytesPerClient 1000000');
    await json(await create(send, 'b', '10.0.0.1', 400_000), 201); // what is left
    await json(await create(send, 'b', '10.0.0.2', 900_000), 201); // another client
    expect((await send(`/v1/sessions/${a.id}`, { method: 'DELETE' })).status).toBe(204);
    await json(await create(send, 'c', '10.0.0.1', 600_000), 201);
  });

  it('should refuse a session that does not fit the free space beside those open, with 507', async () => {
    const store = await FsStore.open(tempDir());
    const app = createApp({ store, kernels: k, freeSpace: async () => 1_000_000, log: () => undefined });
    const send: Send = async (path, init) => app.request(path, typed(init));
    await json(await create(send, 'a', '10.0.0.1', 700_000), 201);
    const msg = await expectError(create(send, 'b', '10.0.0.2', 400_000), 507, 'INSUFFICIENT_STORAGE');
    expect(msg).toContain('700000 are reserved');
    await json(await create(send, 'b', '10.0.0.2', 300_000), 201);
  });

  it('should end a session that received nothing after emptySessionTtlSeconds, and one that did after sessionTtlSeconds', async () => {
    let now = Date.now();
    const store = await FsStore.open(tempDir());
    const app = createApp({ store, kernels: k, limits: { sessionTtlSeconds: 3600, emptySessionTtlSeconds: 60 }, now: () => now, log: () => undefined });
    const send: Send = async (path, init) => app.request(path, typed(init));
    const idle = await json<{ id: string; expiresAt: string }>(await create(send, 'idle.bin'), 201);
    expect(Date.parse(idle.expiresAt)).toBeLessThanOrEqual(now + 60_000);
    const used = await start(send, k, randomBytes(50_000, 2), { key: 'used.bin' }); // its batches extend it
    now += 61_000;
    await expectError(send(`/v1/sessions/${idle.id}`), 410, 'SESSION_EXPIRED');
    expect((await send(`/v1/sessions/${used.session.id}`)).status).toBe(200);
  });

  it('should keep counting the sessions a restart left open', async () => {
    const dir = tempDir();
    const before = createApp({ store: await FsStore.open(dir), kernels: k, maxSessionsPerClient: 2, log: () => undefined });
    const sendBefore: Send = async (path, init) => before.request(path, typed(init));
    await json(await create(sendBefore, 'a', '10.0.0.7'), 201);
    await json(await create(sendBefore, 'b', '10.0.0.7'), 201);
    // A new app over the same store (a restarted server) knows both.
    const after = createApp({ store: await FsStore.open(dir), kernels: k, maxSessionsPerClient: 2, log: () => undefined });
    const sendAfter: Send = async (path, init) => after.request(path, typed(init));
    await expectError(create(sendAfter, 'c', '10.0.0.7'), 429, 'TOO_MANY_SESSIONS');
    await json(await create(sendAfter, 'c', '10.0.0.8'), 201);
  });
});
