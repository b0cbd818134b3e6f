// maxSessionsPerClient on Workers holds over all keys: each key has its own
// Durable Object, so the count lives in one object per client address
// (worker/cloudflare/client-object.ts), freed by commit, DELETE and expiry.
// This project's Worker allows 4 sessions per client (MAX_SESSIONS_PER_CLIENT
// in vitest.workers.config.ts).
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { init } from '../../../core/kernels/workerd.js';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import type { CreateSessionResponse } from '../../../core/protocol/messages.js';
import type { ClientObject } from '../../../worker/cloudflare/client-object.js';
import type { KeyObject } from '../../../worker/cloudflare/key-object.js';
import { splitId } from '../../../worker/cloudflare/session-ids.js';
import { randomBytes } from '../../support/bytes.js';
import { expectError, json, push, type Send, typed } from '../client.js';
import { emptyBucket, keyObjectStub } from './in-object.js';

afterEach(emptyBucket);

const MAX = 4; // SMALL_LIMITS_TEST_BINDINGS

/** Requests from one client address (Cloudflare sets CF-Connecting-IP; here the test does). */
const from =
  (ip: string): Send =>
  (path, init) =>
    SELF.fetch(`http://deltaflare.test${path}`, typed({ ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': ip } }));
const body = (key: string) => ({ method: 'POST', body: JSON.stringify({ key, size: 1, chunking: DEFAULT_CHUNKING }) });
const open = async (send: Send, key: string) => json<CreateSessionResponse>(await send('/v1/sessions', body(key)), 201);

const clientObject = (ip: string) => env.CLIENTS.get(env.CLIENTS.idFromName(ip));
const openIds = (ip: string) => runInDurableObject(clientObject(ip), (o: ClientObject) => o.openIds());

/** Ages session `outer` past its expiry in its key's object, and its row in the client's object, as if a day had passed. */
async function expire(ip: string, outer: string): Promise<void> {
  const { inner, object } = splitId(outer)!;
  await runInDurableObject(keyObjectStub(env.KEYS.idFromString(object)), async (o: KeyObject) => {
    const s = (await o.store.getSession(inner))!;
    await o.store.putSession({ ...s, expires: Date.now() - 1 });
  });
  await runInDurableObject(clientObject(ip), (_, state) => void state.storage.sql.exec('UPDATE open SET expires = ? WHERE id = ?', Date.now() - 1, outer));
}

describe('sessions per client on Workers', () => {
  it("should count a client's staged bytes over all keys: 429 naming maxStagedBytesPerClient", async () => {
    const ip = '198.51.100.17';
    const a = from(ip);
    const sized = (key: string) => ({ method: 'POST', body: JSON.stringify({ key, size: 1 << 20, chunking: DEFAULT_CHUNKING }) });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await json<CreateSessionResponse>(await a('/v1/sessions', sized(`b/${i}`)), 201)).id);
    const message = await expectError(a('/v1/sessions', sized('b/3')), 429, 'TOO_MANY_SESSIONS');
    expect(message).toContain(`maxStagedBytesPerClient ${3 << 20}`);
    expect((await a(`/v1/sessions/${ids[0]}`, { method: 'DELETE' })).status).toBe(204);
    ids.push((await json<CreateSessionResponse>(await a('/v1/sessions', sized('b/3')), 201)).id);
    for (const id of ids.slice(1)) await a(`/v1/sessions/${id}`, { method: 'DELETE' });
  });

  it("should count a client's sessions over all keys: 429 naming the limit, then a slot after a DELETE", async () => {
    const ip = '198.51.100.7';
    const a = from(ip);
    // One session per key: no key's object sees more than one.
    const ids = (await Promise.all(Array.from({ length: MAX }, (_, i) => open(a, `c/${i}`)))).map((s) => s.id);
    const message = await expectError(a('/v1/sessions', body('c/extra')), 429, 'TOO_MANY_SESSIONS');
    expect(message).toContain(`has ${MAX} open sessions over all keys, the limit maxSessionsPerClient ${MAX}`);
    await expectError(a('/v1/sessions', body('c/0')), 429, 'TOO_MANY_SESSIONS');
    // Another client is not affected.
    const other = await open(from('198.51.100.8'), 'c/extra');

    expect((await a(`/v1/sessions/${ids[2]}`, { method: 'DELETE' })).status).toBe(204);
    const next = await open(a, 'c/extra');
    await expectError(a('/v1/sessions', body('c/more')), 429, 'TOO_MANY_SESSIONS');
    expect((await openIds(ip)).sort()).toEqual([...ids.filter((_, i) => i !== 2), next.id].sort());
    for (const id of [...ids, next.id]) await a(`/v1/sessions/${id}`, { method: 'DELETE' });
    expect(await openIds(ip)).toEqual([]);
    expect(await openIds('198.51.100.8')).toEqual([other.id]);
  });

  it('should free the slot on commit, even when the commit comes from another address', async () => {
    const k = await init();
    const b = from('198.51.100.9');
    await push(b, k, randomBytes(50_000, 3), { key: 'c/pushed' });
    expect(await openIds('198.51.100.9')).toEqual([]);
    // A session opened by one address, its requests and commit sent from another.
    const { sync } = await push(async (path, init) => (path === '/v1/sessions' ? b : from('203.0.113.1'))(path, init), k, randomBytes(60_000, 4), {
      key: 'c/moved',
    });
    expect(sync.session.id).toMatch(/^s_/);
    expect(await openIds('198.51.100.9')).toEqual([]);
  });

  it('should free the slot of a session that expired without a request: at the limit, and by the alarm', async () => {
    const ip = '198.51.100.10';
    const c = from(ip);
    const ids: string[] = [];
    for (let i = 0; i < MAX; i++) ids.push((await open(c, `e/${i}`)).id);
    await expectError(c('/v1/sessions', body('e/new')), 429, 'TOO_MANY_SESSIONS');
    await expire(ip, ids[0]);
    // At the limit, the client's object asks e/0's object, which answers that the session expired: its slot is free.
    const fresh = await open(c, 'e/new');
    expect(await openIds(ip)).not.toContain(ids[0]);
    await expectError(c('/v1/sessions', body('e/newer')), 429, 'TOO_MANY_SESSIONS');

    // Below the limit nothing asks; the alarm finds expired sessions anyway, and an empty object keeps no storage.
    for (const id of [...ids.slice(1), fresh.id]) await expire(ip, id);
    expect(await runDurableObjectAlarm(clientObject(ip))).toBe(true);
    const tables = (state: DurableObjectState) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'open'").toArray().length;
    expect(await runInDurableObject(clientObject(ip), (_, state) => tables(state))).toBe(0);
    expect(await openIds(ip)).toEqual([]);
    await open(c, 'e/again'); // the emptied object takes sessions again
  });
});
