// Access: bearer tokens on every write route, public vs protected reads,
// upload tokens scoped to one key with an expiry, the constant-time compare,
// and CORS answers for a page on another origin. Through app.request.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNKING } from '../../../core/protocol/chunking.js';
import { createApp } from '../../../worker/http/app.js';
import { signUploadToken, timingSafeEqual, verifyUploadToken } from '../../../worker/http/auth.js';
import type { AccessOptions } from '../../../worker/options.js';
import { FsStore } from '../../../worker/store/fs/store.js';
import { download, expectError, json, push, sendAll, sendCommit, start, type Send, typed } from '../client.js';
import { kernels as k, randomBytes, sameBytes, tempDir } from '../setup.js';

/** Long enough to sign upload tokens (MIN_SIGNING_SECRET). */
const TOKEN = 'write-secret-0123456789-abcdefghijkl';
const READ = 'read-secret-9876543210';

async function appWith(access: AccessOptions, corsOrigins?: string[], now?: () => number) {
  const store = await FsStore.open(tempDir());
  const app = createApp({ store, kernels: k, access, corsOrigins, now, log: () => undefined });
  const as =
    (token?: string, extra: Record<string, string> = {}): Send =>
    (path, init) =>
      Promise.resolve(
        app.request(
          path,
          typed({
            ...init,
            headers: { ...(init?.headers as Record<string, string>), ...extra, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
          }),
        ),
      );
  return { app, as };
}

/** The status of an answer, its body cancelled: an unread file body holds its file open until collected. */
async function statusOf(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

/** Every write route with a body that would pass the access check (the session id is a live one). */
function writeRoutes(id: string): [string, string, string | undefined][] {
  return [
    ['POST', '/v1/sessions', JSON.stringify({ key: 'w.bin', size: 10 })],
    ['POST', `/v1/sessions/${id}/match`, ''],
    ['PUT', `/v1/sessions/${id}/plan`, ''],
    ['PUT', `/v1/sessions/${id}/parts/0`, ''],
    ['GET', `/v1/sessions/${id}`, undefined],
    ['POST', `/v1/sessions/${id}/commit`, '{}'],
    ['DELETE', `/v1/sessions/${id}`, undefined],
    ['DELETE', '/v1/files/w.bin', undefined],
  ];
}

describe('timingSafeEqual', () => {
  it('should say equal for equal strings and unequal otherwise, whatever the lengths', async () => {
    expect(await timingSafeEqual('secret', 'secret')).toBe(true);
    expect(await timingSafeEqual('', '')).toBe(true);
    expect(await timingSafeEqual('secret', 'secreT')).toBe(false);
    expect(await timingSafeEqual('secret', 'secret2')).toBe(false);
    expect(await timingSafeEqual('secret', '')).toBe(false);
    expect(await timingSafeEqual('a'.repeat(10_000), `${'a'.repeat(9_999)}b`)).toBe(false);
    expect(await timingSafeEqual('é', 'e\u0301')).toBe(false); // bytes, not normalized text
  });
});

describe('bearer token for writes', () => {
  it('should answer 401 with WWW-Authenticate on every write route without a token or with a bad one', async () => {
    const { as } = await appWith({ token: TOKEN });
    const { session } = await start(as(TOKEN), k, randomBytes(5000, 1), { key: 'w.bin' });
    for (const [method, path, body] of writeRoutes(session.id)) {
      for (const [token, error] of [
        [undefined, false],
        ['wrong', true],
        [`${TOKEN}x`, true],
        [TOKEN.slice(0, -1), true],
      ] as const) {
        const res = await as(token)(path, { method, body });
        expect(res.headers.get('www-authenticate'), `${method} ${path} token ${token}`).toBe(
          error ? 'Bearer realm="deltaflare", error="invalid_token"' : 'Bearer realm="deltaflare"',
        );
        expect(res.headers.get('x-deltaflare-error')).toBe('UNAUTHORIZED');
        await expectError(res, 401, 'UNAUTHORIZED');
      }
      const malformed = await as(undefined, { authorization: `Basic ${btoa(`u:${TOKEN}`)}` })(path, { method, body });
      await expectError(malformed, 401, 'UNAUTHORIZED');
    }
    // Nothing was written by the refused requests: the session is intact and the key absent.
    expect((await as(TOKEN)(`/v1/sessions/${session.id}`)).status).toBe(200);
    expect((await as(TOKEN)('/v1/files/w.bin')).status).toBe(404);
  });

  it('should accept the token on every step of a push, then a delete', async () => {
    const { as } = await appWith({ token: TOKEN });
    const data = randomBytes(300_000, 2);
    await push(as(TOKEN), k, data, { key: 'ok.bin' });
    expect(sameBytes((await download(as(undefined), 'ok.bin')).bytes, data)).toBe('same');
    expect((await as(TOKEN)('/v1/files/ok.bin', { method: 'DELETE' })).status).toBe(204);
  });

  it('should keep /v1/info and reads public by default', async () => {
    const { as } = await appWith({ token: TOKEN });
    await push(as(TOKEN), k, randomBytes(1000, 3), { key: 'pub.bin' });
    expect((await as(undefined)('/v1/info')).status).toBe(200);
    expect((await as(undefined)('/v1/files')).status).toBe(200);
    expect((await download(as(undefined), 'pub.bin')).status).toBe(200);
    expect((await as(undefined)('/v1/files/pub.bin', { method: 'HEAD' })).status).toBe(200);
  });

  it('should leave an endpoint without a token open', async () => {
    const { as } = await appWith({});
    await push(as(undefined), k, randomBytes(1000, 4), { key: 'open.bin' });
    expect((await as('anything')('/v1/files/open.bin', { method: 'DELETE' })).status).toBe(204);
  });
});

describe('protected reads', () => {
  it('should want a token for GET, HEAD and list when protectReads is set, the write token reading too', async () => {
    const { as } = await appWith({ token: TOKEN, protectReads: true });
    await push(as(TOKEN), k, randomBytes(1000, 5), { key: 'p.bin' });
    await expectError(as(undefined)('/v1/files/p.bin'), 401, 'UNAUTHORIZED');
    await expectError(as('nope')('/v1/files'), 401, 'UNAUTHORIZED');
    const head = await as(undefined)('/v1/files/p.bin', { method: 'HEAD' });
    expect([head.status, head.headers.get('x-deltaflare-error')]).toEqual([401, 'UNAUTHORIZED']);
    expect(await statusOf(as(TOKEN)('/v1/files/p.bin'))).toBe(200);
    expect((await as(TOKEN)('/v1/files')).status).toBe(200);
    expect((await as(undefined)('/v1/info')).status).toBe(200);
  });

  it('should accept a read token for reads only', async () => {
    const { as } = await appWith({ token: TOKEN, readToken: READ });
    await push(as(TOKEN), k, randomBytes(1000, 6), { key: 'r.bin' });
    expect(await statusOf(as(READ)('/v1/files/r.bin'))).toBe(200);
    await expectError(as(undefined)('/v1/files/r.bin'), 401, 'UNAUTHORIZED');
    await expectError(as(READ)('/v1/files/r.bin', { method: 'DELETE' }), 401, 'UNAUTHORIZED');
    await expectError(as(READ)('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'r.bin', size: 1 }) }), 401, 'UNAUTHORIZED');
  });
});

describe('upload tokens', () => {
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  it('should let an upload token push and read its key, and resume its session', async () => {
    const { as } = await appWith({ token: TOKEN, protectReads: true });
    const up = await signUploadToken({ secret: TOKEN, key: 'users/7/photo.jpg', expires: inAnHour() });
    expect(up).toMatch(/^dfu2\.\d+\.\.[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);
    const data = randomBytes(200_000, 7);
    await push(as(up), k, data, { key: 'users/7/photo.jpg' });
    expect(sameBytes((await download(as(up), 'users/7/photo.jpg')).bytes, data)).toBe('same');
    // A second version: a new session, status, and a delete of the key, all with the same token.
    const s = await start(as(up), k, randomBytes(10_000, 8), { key: 'users/7/photo.jpg' });
    expect((await as(up)(`/v1/sessions/${s.session.id}`)).status).toBe(200);
    expect((await as(up)(`/v1/sessions/${s.session.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await as(up)('/v1/files/users/7/photo.jpg', { method: 'DELETE' })).status).toBe(204);
  });

  it('should refuse an upload token for another key with 403, on the session and on its requests', async () => {
    const { as } = await appWith({ token: TOKEN });
    const mine = await signUploadToken({ secret: TOKEN, key: 'a.bin', expires: inAnHour() });
    const msg = await expectError(as(mine)('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'b.bin', size: 10 }) }), 403, 'FORBIDDEN');
    expect(msg).toContain('"a.bin"');
    await expectError(as(mine)('/v1/files/b.bin', { method: 'DELETE' }), 403, 'FORBIDDEN');
    await expectError(as(mine)('/v1/files/a.bin/../b.bin', { method: 'DELETE' }), 403, 'FORBIDDEN');
    // Someone else's session (key b.bin), driven with a token for a.bin: every session route refuses.
    const other = await start(as(TOKEN), k, randomBytes(5000, 9), { key: 'b.bin' });
    for (const [method, path, body] of writeRoutes(other.session.id).slice(1, 7)) {
      await expectError(as(mine)(path, { method, body }), 403, 'FORBIDDEN');
    }
    await sendAll(as(TOKEN), other);
    await json(await sendCommit(as(TOKEN), other)); // untouched by the refused requests
  });

  it('should refuse expired and tampered upload tokens with 403', async () => {
    let now = Date.now();
    const { as } = await appWith({ token: TOKEN }, undefined, () => now);
    const key = 'x.bin';
    const body = JSON.stringify({ key, size: 10, chunking: DEFAULT_CHUNKING });
    const expires = Math.floor(now / 1000) + 60;
    const up = await signUploadToken({ secret: TOKEN, key, expires });
    expect((await as(up)('/v1/sessions', { method: 'POST', body })).status).toBe(201);
    now += 61_000;
    expect(await expectError(as(up)('/v1/sessions', { method: 'POST', body }), 403, 'FORBIDDEN')).toContain('expired');

    const fresh = await signUploadToken({ secret: TOKEN, key, expires: Math.floor(now / 1000) + 60 });
    const [, exp, , k64, sig] = fresh.split('.');
    const tampered = [
      `dfu2.${Number(exp) + 3600}..${k64}.${sig}`, // a later expiry
      `dfu2.${exp}.1000000.${k64}.${sig}`, // a size cap added
      `dfu2.${exp}..${btoa('y.bin').replace(/=+$/, '')}.${sig}`, // another key
      `dfu2.${exp}..${k64}.${(sig[0] === '0' ? '1' : '0') + sig.slice(1)}`, // a flipped digit
      await signUploadToken({ secret: 'another-endpoint-secret-0123456789', key, expires: Number(exp) }),
      `dfu2.${exp}..${k64}.${sig.slice(0, 63)}`, // malformed
    ];
    for (const t of tampered) await expectError(as(t)('/v1/sessions', { method: 'POST', body }), 403, 'FORBIDDEN');
    expect((await as(fresh)('/v1/sessions', { method: 'POST', body })).status).toBe(201);
  });

  it('should verify and reject tokens directly', async () => {
    const s32 = 's'.repeat(32);
    const t = await signUploadToken({ secret: s32, key: 'k/ü ?.bin', expires: 2000 });
    expect(await verifyUploadToken(s32, t, 1999)).toEqual({ key: 'k/ü ?.bin' });
    await expect(verifyUploadToken(s32, t, 2000)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(verifyUploadToken('t'.repeat(32), t, 1)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await verifyUploadToken(s32, await signUploadToken({ secret: s32, key: 'k', expires: 2000, maxSize: 5 }), 1)).toEqual({ key: 'k', maxSize: 5 });
    await expect(signUploadToken({ secret: '', key: 'k', expires: 1 })).rejects.toThrow(/secret/);
    await expect(signUploadToken({ secret: 's'.repeat(31), key: 'k', expires: 1 })).rejects.toThrow(/fewer than 32/);
  });

  it('should check the scope against the key the route acts on, however the path is escaped', async () => {
    const { as } = await appWith({ token: TOKEN, protectReads: true });
    await push(as(TOKEN), k, randomBytes(3000, 30), { key: 'a/b%zz' });
    // Hono decodes the valid escape and keeps the bad one: the route acts on "a/b%zz", so a token for "a%2Fb%zz" may not.
    const near = await signUploadToken({ secret: TOKEN, key: 'a%2Fb%zz', expires: inAnHour() });
    await expectError(as(near)('/v1/files/a%2Fb%zz'), 403, 'FORBIDDEN');
    await expectError(as(near)('/v1/files/a%2Fb%zz', { method: 'DELETE' }), 403, 'FORBIDDEN');
    const exact = await signUploadToken({ secret: TOKEN, key: 'a/b%zz', expires: inAnHour() });
    expect(await statusOf(as(exact)('/v1/files/a%2Fb%zz'))).toBe(200);
  });

  it('should refuse a session larger than the upload token allows, naming the cap', async () => {
    const { as } = await appWith({ token: TOKEN });
    const capped = await signUploadToken({ secret: TOKEN, key: 'cap.bin', expires: inAnHour(), maxSize: 10_000 });
    const msg = await expectError(
      as(capped)('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'cap.bin', size: 10_001, chunking: DEFAULT_CHUNKING }) }),
      403,
      'FORBIDDEN',
    );
    expect(msg).toContain('at most 10000 bytes');
    await push(as(capped), k, randomBytes(10_000, 31), { key: 'cap.bin' });
  });

  it('should accept upload tokens only when a secret of 32 characters or more signs them', async () => {
    const short = 'short-write-token';
    const up = await signUploadToken({ secret: 'u'.repeat(32), key: 'x.bin', expires: inAnHour() });
    const body = JSON.stringify({ key: 'x.bin', size: 10, chunking: DEFAULT_CHUNKING });
    // A short write token signs nothing: a token holder could test guesses of it offline.
    const weak = await appWith({ token: short });
    expect(await expectError(weak.as(up)('/v1/sessions', { method: 'POST', body }), 403, 'FORBIDDEN')).toContain('fewer than 32 characters');
    expect((await weak.as(short)('/v1/sessions', { method: 'POST', body })).status).toBe(201); // the token itself still works
    // With an upload secret of its own, the endpoint accepts tokens signed with it, and not with its write token.
    const own = await appWith({ token: short, uploadSecret: 'u'.repeat(32) });
    expect((await own.as(up)('/v1/sessions', { method: 'POST', body })).status).toBe(201);
    const byToken = await signUploadToken({ secret: TOKEN, key: 'x.bin', expires: inAnHour() });
    await expectError(own.as(byToken)('/v1/sessions', { method: 'POST', body }), 403, 'FORBIDDEN');
  });

  it('should not let an upload token list files or use another key as basis when reads are protected', async () => {
    const { as } = await appWith({ token: TOKEN, protectReads: true });
    await push(as(TOKEN), k, randomBytes(1000, 10), { key: 'secret.bin' });
    const up = await signUploadToken({ secret: TOKEN, key: 'mine.bin', expires: inAnHour() });
    await expectError(as(up)('/v1/files'), 403, 'FORBIDDEN');
    await expectError(as(up)('/v1/files/secret.bin'), 403, 'FORBIDDEN');
    await expectError(as(up)('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'mine.bin', size: 1000, basis: 'secret.bin' }) }), 403, 'FORBIDDEN');
  });
});

describe('CORS', () => {
  const origin = 'https://app.example';

  it('should answer a preflight from an allowed origin with the headers a push needs', async () => {
    const { app } = await appWith({ token: TOKEN }, [origin]);
    const res = await app.request('/v1/sessions/s_000000000000000000000000/parts/3', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
  });

  it('should expose X-Deltaflare-Error on errors (401 included) and allow nothing for other origins', async () => {
    const { app } = await appWith({ token: TOKEN }, [origin]);
    const denied = await app.request('/v1/sessions', { method: 'POST', body: '{}', headers: { origin } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(origin);
    expect(denied.headers.get('access-control-expose-headers')).toContain('X-Deltaflare-Error');
    const other = await app.request('/v1/info', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('should send no CORS headers by default', async () => {
    const { app } = await appWith({});
    const res = await app.request('/v1/info', { headers: { origin } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await app.request('/v1/sessions', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});
