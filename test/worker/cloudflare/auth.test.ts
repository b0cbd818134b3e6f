// Access on Workers: the token comes from a binding (a secret in production),
// checked by the entry before routing and by the key's Durable Object (the
// upload token's key scope, on the session's own requests); CORS from CORS_ORIGINS.
import { SELF } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../../core/kernels/api.js';
import { init } from '../../../core/kernels/workerd.js';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import { signUploadToken } from '../../../worker/http/auth.js';
import { download, expectError, push, start, type Send, typed } from '../client.js';
import { emptyBucket } from './in-object.js';
import { randomBytes } from '../../support/bytes.js';

const TOKEN = 'workers-test-token-0123456789abcdef'; // AUTH_TEST_BINDINGS in vitest.workers.config.ts
const ORIGIN = 'https://app.example';

let k: Kernels;
beforeAll(async () => {
  k = await init();
});
afterEach(emptyBucket);

const as =
  (token?: string, extra: Record<string, string> = {}): Send =>
  (path, init) =>
    SELF.fetch(
      `http://deltaflare.test${path}`,
      typed({
        ...init,
        headers: { ...(init?.headers as Record<string, string>), ...extra, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      }),
    );

const bytes = randomBytes;

describe('access on Workers', () => {
  it('should refuse writes without the binding token (401) and accept them with it; reads stay public', async () => {
    const body = JSON.stringify({ key: 'w.bin', size: 10, chunking: DEFAULT_CHUNKING });
    const none = await as()('/v1/sessions', { method: 'POST', body });
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="deltaflare"');
    await expectError(none, 401, 'UNAUTHORIZED');
    await expectError(as('wrong')('/v1/sessions', { method: 'POST', body }), 401, 'UNAUTHORIZED');
    await expectError(as('wrong')('/v1/files/w.bin', { method: 'DELETE' }), 401, 'UNAUTHORIZED');

    const data = bytes(200_000, 1);
    const { sync } = await push(as(TOKEN), k, data, { key: 'w.bin' });
    // A session's requests need the token too (checked before they reach the object).
    await expectError(as()(`/v1/sessions/${sync.session.id}/commit`, { method: 'POST', body: '{}' }), 401, 'UNAUTHORIZED');
    const got = await download(as(), 'w.bin');
    expect(got.status).toBe(200);
    expect(got.bytes.length).toBe(data.length);
    expect((await as()('/v1/info')).status).toBe(200);
    expect((await as(TOKEN)('/v1/files/w.bin', { method: 'DELETE' })).status).toBe(204);
  });

  it("should let an upload token push its key only: another key, or another key's session, is 403", async () => {
    const expires = Math.floor(Date.now() / 1000) + 600;
    const up = await signUploadToken({ secret: TOKEN, key: 'mine.bin', expires });
    await push(as(up), k, bytes(100_000, 2), { key: 'mine.bin' });
    await expectError(
      as(up)('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'theirs.bin', size: 1, chunking: DEFAULT_CHUNKING }) }),
      403,
      'FORBIDDEN',
    );
    const theirs = await start(as(TOKEN), k, bytes(50_000, 3), { key: 'theirs.bin' });
    await expectError(as(up)(`/v1/sessions/${theirs.session.id}/commit`, { method: 'POST', body: '{}' }), 403, 'FORBIDDEN');
    await expectError(as(up)('/v1/files/theirs.bin', { method: 'DELETE' }), 403, 'FORBIDDEN');
    const expired = await signUploadToken({ secret: TOKEN, key: 'mine.bin', expires: Math.floor(Date.now() / 1000) - 1 });
    await expectError(as(expired)('/v1/files/mine.bin', { method: 'DELETE' }), 403, 'FORBIDDEN');
  });

  it('should answer CORS preflights for CORS_ORIGINS and expose the error code on refused writes', async () => {
    const pre = await as(undefined, {
      origin: ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    })('/v1/sessions', { method: 'OPTIONS' });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const denied = await as(undefined, { origin: ORIGIN })('/v1/sessions', { method: 'POST', body: '{}' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(denied.headers.get('access-control-expose-headers')).toContain('X-Deltaflare-Error');
    const other = await as(undefined, { origin: 'https://other.example' })('/v1/info');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
