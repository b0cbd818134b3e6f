// Hostile input in workerd: the cases of test/hostile-cases.ts (shared with
// the Node suite) sent through the Worker entry to the key's Durable Object.
// After each refused request group the key's version and bytes, the
// session's status and every R2 object (name, size, ETag) are as before, and
// the endpoint still serves. This project's Worker has the suite's small
// limits (SMALL_LIMITS_TEST_BINDINGS in vitest.workers.config.ts).
//
// Requests call the Worker's fetch handler with the project's bindings
// rather than SELF.fetch: under the pool every SELF.fetch makes the next
// ones slower (cloudflare/workers-sdk#15446; measured here: /v1/info took
// 2 ms, then 44 ms after 300 requests, while direct calls stayed at 0.05
// ms), and this suite sends ~600.
import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../../core/kernels/api.js';
import { init } from '../../../core/kernels/workerd.js';
import worker from '../../../worker/cloudflare/index.js';
import { HOSTILE_CASES, HOSTILE_LIMITS, hostileContext } from '../hostile-cases.js';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import type { ClientObject } from '../../../worker/cloudflare/client-object.js';
import { expectError, type Send, typed } from '../client.js';
import { emptyBucket } from './in-object.js';

let k: Kernels;
beforeAll(async () => {
  k = await init();
});
afterEach(emptyBucket);

/** Every object of the bucket: name, size and ETag. */
async function objects(): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.BUCKET.list({ cursor });
    out.push(...page.objects.map((o) => `${o.key} ${o.size} ${o.etag}`));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

describe('endpoint hostile input on Workers', () => {
  it("should run with the suite's limits", async () => {
    const info = (await (await worker.fetch(new Request('http://deltaflare.test/v1/info'), env)).json()) as { limits: Record<string, number> };
    expect(info.limits).toMatchObject(HOSTILE_LIMITS);
  });

  it('should refuse keys it can never store in the Worker, before any Durable Object is reached', async () => {
    const ip = '192.0.2.200';
    const send: Send = (path, init) =>
      worker.fetch(
        new Request(`http://deltaflare.test${path}`, typed({ ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': ip } })),
        env,
      );
    // 1023 bytes: a valid key on Node, but R2 object names hold 1024 bytes and "h/" takes 2.
    const keys = ['../x', 'a\u0000b', '/abs', 'x'.repeat(1023)];
    for (const key of keys) {
      await expectError(send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key, size: 1, chunking: DEFAULT_CHUNKING }) }), 400, 'INVALID_ARGUMENT');
      await expectError(send(`/v1/files/${encodeURIComponent(key)}`, { method: 'DELETE' }), 400, 'INVALID_ARGUMENT');
    }
    // A key's object sets its sweep alarm on its first request: none did, and the client holds no slot.
    for (const key of keys) expect(await runInDurableObject(env.KEYS.get(env.KEYS.idFromName(key)), (_, state) => state.storage.getAlarm())).toBeNull();
    expect(await runInDurableObject(env.CLIENTS.get(env.CLIENTS.idFromName(ip)), (o: ClientObject) => o.openIds())).toEqual([]);
  });

  it('should answer 404 for session ids naming no object, or an object of another namespace', async () => {
    const send: Send = (path, init) => worker.fetch(new Request(`http://deltaflare.test${path}`, typed(init)), env);
    const inner = `s_${'0'.repeat(24)}`;
    for (const object of [env.CLIENTS.idFromName('192.0.2.1').toString(), 'f'.repeat(64), env.KEYS.idFromName('never-used').toString()]) {
      await expectError(send(`/v1/sessions/${inner}-${object}`), 404, 'NOT_FOUND');
      await expectError(send(`/v1/sessions/${inner}-${object}/plan`, { method: 'PUT', body: new Uint8Array(24) }), 404, 'NOT_FOUND');
      await expectError(send(`/v1/sessions/${inner}-${object}`, { method: 'DELETE' }), 404, 'NOT_FOUND');
    }
  });

  HOSTILE_CASES.forEach((c, i) => {
    it(c.name, async () => {
      // One client address per case: its sessions count apart from the others'.
      const send: Send = (path, init) =>
        worker.fetch(
          new Request(
            `http://deltaflare.test${path}`,
            typed({ ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': `192.0.2.${i + 1}` } }),
          ),
          env,
        );
      await c.run(hostileContext({ send, k, storage: objects }));
      expect((await send('/v1/info')).status).toBe(200);
    });
  });
});
