// The absolute session lifetime (limits.maxSessionLifetimeSeconds) on
// Workers: a session past it is refused by its key's Durable Object, naming
// the limit, and the object's alarm removes it with its staged bytes in R2
// and frees its client's slot (worker/cloudflare/client-object.ts). Time is
// moved by rewriting the session record inside the object, as a week-old
// session would have it.
import { DEFAULT_LIMITS } from '../../../core/base/limits.js';
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../../core/kernels/api.js';
import { init } from '../../../core/kernels/workerd.js';
import type { ClientObject } from '../../../worker/cloudflare/client-object.js';
import type { KeyObject } from '../../../worker/cloudflare/key-object.js';
import { splitId } from '../../../worker/cloudflare/session-ids.js';
import { randomBytes } from '../../support/bytes.js';
import { expectError, sendPart, sendPlan, start, type Send, type Sync, typed } from '../client.js';
import { emptyBucket, keyObjectStub } from './in-object.js';

let k: Kernels;
beforeAll(async () => {
  k = await init();
});
afterEach(emptyBucket);

const IP = '203.0.113.50';
const send: Send = (path, init) =>
  SELF.fetch(`http://deltaflare.test${path}`, typed({ ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': IP } }));
const LIFETIME_MS = DEFAULT_LIMITS.maxSessionLifetimeSeconds * 1000;

/** A session with its plan and part 0 landed: staged literal bytes in R2 (p/ objects). */
async function staged(key: string, seed: number): Promise<{ s: Sync; keyObject: DurableObjectStub<KeyObject>; inner: string }> {
  const s = await start(send, k, randomBytes(200 * 1024, seed), { key });
  expect((await sendPlan(send, s)).status).toBe(204);
  expect((await sendPart(send, s, 0)).status).toBe(204);
  const { inner, object } = splitId(s.session.id)!;
  return { s, keyObject: keyObjectStub(env.KEYS.idFromString(object)), inner };
}

/** Rewrites the session's record: created longer ago than the lifetime, expiring at `expires`. */
const age = (o: DurableObjectStub<KeyObject>, inner: string, expires: (created: number) => number) =>
  runInDurableObject(o, async (obj: KeyObject) => {
    const rec = (await obj.store.getSession(inner))!;
    const created = Date.now() - LIFETIME_MS - 1000;
    await obj.store.putSession({ ...rec, created, expires: expires(created) });
  });

const pieces = async () => (await env.BUCKET.list({ prefix: 'p/' })).objects.length;
const clientOpen = () => runInDurableObject(env.CLIENTS.get(env.CLIENTS.idFromName(IP)), (o: ClientObject) => o.openIds());

describe('session lifetime on Workers', () => {
  it('should refuse a session past maxSessionLifetimeSeconds naming the limit, and sweep it with its staged bytes and client slot', async () => {
    const { s, keyObject, inner } = await staged('life/a.bin', 1);
    expect(await pieces()).toBeGreaterThan(0);
    expect(await clientOpen()).toContain(s.session.id);
    // As the endpoint writes it: expires = created + lifetime (the cap), now past.
    await age(keyObject, inner, (created) => created + LIFETIME_MS);
    const msg = await expectError(send(`/v1/sessions/${s.session.id}`), 410, 'SESSION_EXPIRED');
    expect(msg).toContain(`maxSessionLifetimeSeconds ${DEFAULT_LIMITS.maxSessionLifetimeSeconds}`);
    await expectError(sendPart(send, s, 1), 410, 'SESSION_EXPIRED');

    expect(await runDurableObjectAlarm(keyObject)).toBe(true);
    expect(await runInDurableObject(keyObject, (o: KeyObject) => o.store.getSession(inner))).toBeNull();
    expect(await pieces()).toBe(0);
    expect(await clientOpen()).toEqual([]);
    await expectError(send(`/v1/sessions/${s.session.id}`), 404, 'NOT_FOUND');
  });

  it('should sweep an over-age session whose record still expires later (written under a larger limit)', async () => {
    const { s, keyObject, inner } = await staged('life/b.bin', 2);
    await age(keyObject, inner, () => Date.now() + 3_600_000);
    expect(await expectError(sendPlan(send, s), 410, 'SESSION_EXPIRED')).toContain('maxSessionLifetimeSeconds');
    expect(await runDurableObjectAlarm(keyObject)).toBe(true);
    expect(await runInDurableObject(keyObject, (o: KeyObject) => o.store.getSession(inner))).toBeNull();
    expect(await pieces()).toBe(0);
    expect(await clientOpen()).toEqual([]);
  });
});
