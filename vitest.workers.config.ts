// The Workers tests: test/workers/*.test.ts run inside workerd (the real
// runtime, with local R2 and Durable Objects) through the vitest pool.
// `npm test` runs this config after the Node one (vitest.config.ts).
// Three projects: the open Worker (no token); test/workers/auth*.test.ts,
// whose Worker has a token and a CORS origin as bindings (in production the
// token is a secret: `wrangler secret put DELTAFLARE_TOKEN`); and
// test/workers/client-sessions*.test.ts, whose Worker allows 4 open sessions
// per client so the limit is reached in 4 requests instead of 64.
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/** The pool plugin with extra bindings. Tests only: nodejs_compat, since the shared store helpers use node:crypto and Buffer; the Worker itself needs no Node APIs. */
const worker = (bindings: Record<string, string> = {}) =>
  cloudflareTest({ main: './worker/workers/index.ts', wrangler: { configPath: './wrangler.toml' }, miniflare: { compatibilityFlags: ['nodejs_compat'], bindings } });

/** The token and origin of test/workers/auth.test.ts. */
export const AUTH_TEST_BINDINGS = { DELTAFLARE_TOKEN: 'workers-test-token', CORS_ORIGINS: 'https://app.example' };
/** The session limit of test/workers/client-sessions.test.ts. */
export const CLIENT_SESSIONS_TEST_BINDINGS = { MAX_SESSIONS_PER_CLIENT: '4' };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, plugins: [worker()], test: { name: 'workers', include: ['test/workers/**/*.test.ts'], exclude: ['test/workers/**/auth*.test.ts', 'test/workers/**/client-sessions*.test.ts'] } },
      { extends: true, plugins: [worker(AUTH_TEST_BINDINGS)], test: { name: 'workers-auth', include: ['test/workers/**/auth*.test.ts'] } },
      { extends: true, plugins: [worker(CLIENT_SESSIONS_TEST_BINDINGS)], test: { name: 'workers-client-sessions', include: ['test/workers/**/client-sessions*.test.ts'] } },
    ],
  },
});
