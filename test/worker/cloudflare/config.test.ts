// The Worker's configuration (worker/cloudflare/config.ts), checked in
// workerd as createApp checks its options: a misspelt limit, a LIMITS that is
// not JSON, PROTECT_READS that is not a boolean, a CORS origin with a path
// are named in a 500 answer (and the log), never ignored in silence.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import handler from '../../../worker/cloudflare/index.js';
import { workerConfig } from '../../../worker/cloudflare/config.js';
import type { Env } from '../../../worker/cloudflare/env.js';

const withVars = (vars: Partial<Env>): Env => ({ ...(env as unknown as Env), ...vars });

describe('the Worker configuration', () => {
  it('should name each wrong variable', () => {
    for (const [vars, why] of [
      [{ LIMITS: '{"partsize": 1}' }, /limits: unknown option "partsize" \(did you mean partSize\?\)/],
      [{ LIMITS: '{partSize: 1}' }, /LIMITS is not JSON/],
      [{ LIMITS: '[1]' }, /LIMITS must be a JSON object/],
      [{ LIMITS: '{"maxFileSize": -1}' }, /limits\.maxFileSize -1 is below the minimum 0/],
      [{ PROTECT_READS: 'yes' }, /PROTECT_READS is "yes", not "true" or "false"/],
      [{ CORS_ORIGINS: 'https://app.example/' }, /CORS_ORIGINS has "https:\/\/app.example\/", not an origin/],
      [{ DELTAFLARE_TOKEN: ' spaced ' }, /DELTAFLARE_TOKEN must be a string without surrounding spaces/],
      [{ MAX_SESSIONS_PER_CLIENT: 'many' }, /MAX_SESSIONS_PER_CLIENT must be an integer/],
      [{ COMPACTION: '{"at": 10, "too": 5}' }, /COMPACTION is .*, not \{"at": n, "to": m\} with 1 <= m <= n <= 900/],
      [{ COMPACTION: '{"at": 5, "to": 10}' }, /COMPACTION is .*, not \{"at": n, "to": m\}/],
      [{ FLAT_PREFIX: 'files' }, /FLAT_PREFIX is "files": it must be a folder ending in "\/"/],
      [{ FLAT_PREFIX: 'h/files/' }, /FLAT_PREFIX is "h\/files\/".*not starting with "\/" or the layout's own h\//],
      [{ DELTAFLARE_R2_STATS: 'on' }, /DELTAFLARE_R2_STATS is "on", not "true" or "false"/],
    ] as const) {
      expect(() => workerConfig(withVars(vars))).toThrow(why);
    }
    const ok = workerConfig(withVars({ LIMITS: '{"partSize": 5242880}', PROTECT_READS: 'true', CORS_ORIGINS: 'https://a.example, http://b.example:8080' }));
    expect(ok.limits.partSize).toBe(5 << 20);
    expect(ok.access.protectReads).toBe(true);
    expect(ok.corsOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(ok.compaction).toEqual({ at: 512, to: 256 });
    expect(workerConfig(withVars({ COMPACTION: '{"at": 1, "to": 1}' })).compaction).toEqual({ at: 1, to: 1 });
  });

  it('should answer every request 500 naming the mistake while the configuration is wrong', async () => {
    const bad = withVars({ LIMITS: '{"maxfilesize": 10}' });
    for (const path of ['/v1/info', '/v1/files/a.bin']) {
      const res = await handler.fetch(new Request(`http://deltaflare.test${path}`), bad);
      expect(res.status).toBe(500);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('INTERNAL');
      expect(body.error.message).toContain('the Worker\'s configuration is wrong: limits: unknown option "maxfilesize" (did you mean maxFileSize?)');
    }
  });

  it('should answer an open Worker only under loopback names and ALLOWED_HOSTS, and any name once it has a token', async () => {
    const open = withVars({ ALLOWED_HOSTS: 'files.example.dev', DELTAFLARE_TOKEN: undefined });
    const status = async (url: string, e: Env) => (await handler.fetch(new Request(url), e)).status;
    expect(await status('http://127.0.0.1:8787/v1/info', open)).toBe(200);
    expect(await status('http://files.example.dev/v1/info', open)).toBe(200);
    expect(await status('http://attacker.example/v1/info', open)).toBe(403);
    expect(await status('http://attacker.example/v1/info', withVars({ DELTAFLARE_TOKEN: 'a-token-of-the-worker-0123456789' }))).toBe(200);
    expect(() => workerConfig(withVars({ ALLOWED_HOSTS: 'https://x.example/' }))).toThrow(/ALLOWED_HOSTS has "https:\/\/x.example\/", not a host name/);
  });
});
