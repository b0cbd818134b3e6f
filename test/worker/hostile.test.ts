// Hostile input through app.request over an fs store: the cases of
// test/worker/hostile-cases.ts (shared with workerd's test/worker/cloudflare/hostile.test.ts),
// each checking that the store folder is byte-for-byte unchanged (no
// session, staging or blob written) and that the endpoint still serves.
import { describe, expect, it } from 'vitest';
import { HOSTILE_CASES, HOSTILE_LIMITS, hostileContext } from './hostile-cases.js';
import { expectError, start } from './client.js';
import { kernels as k, makeApp, randomBytes, snapshot } from './setup.js';

describe('endpoint hostile input', () => {
  for (const c of HOSTILE_CASES) {
    it(c.name, async () => {
      const { send, dir } = await makeApp({ limits: HOSTILE_LIMITS });
      await c.run(hostileContext({ send, k, storage: async () => snapshot(dir) }));
      expect((await send('/v1/info')).status).toBe(200);
    });
  }

  it('should refuse a body whose Content-Length is above the limit before reading it', async () => {
    const { send, dir } = await makeApp({ limits: HOSTILE_LIMITS });
    const s = await start(send, k, randomBytes(100 * 1024, 41), { key: 'b.bin' });
    const before = snapshot(dir);
    await expectError(
      send(`/v1/sessions/${s.session.id}/plan`, { method: 'PUT', body: new Uint8Array(10), headers: { 'Content-Length': '999999999' } }),
      413,
      'TOO_LARGE',
    );
    expect(snapshot(dir)).toEqual(before);
  });
});
