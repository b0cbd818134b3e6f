// The Workers tests: test/worker/cloudflare/*.test.ts and test/worker/store/r2/*.test.ts run inside workerd (the real
// runtime, with local R2 and Durable Objects) through the vitest pool.
// `npm test` runs this config after the Node one (vitest.config.ts).
// Three projects: the open Worker (no token); test/worker/cloudflare/auth*.test.ts,
// whose Worker has a token and a CORS origin as bindings (in production the
// token is a secret: `wrangler secret put DELTAFLARE_TOKEN`); and
// test/worker/cloudflare/{client-sessions,hostile}*.test.ts, whose Worker has small
// limits: 4 open sessions per client (reached in 4 requests instead of 64)
// and the hostile suite's body limits (oversized bodies of a few KiB).
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { HOSTILE_LIMITS } from './test/worker/hostile-limits.js';

/** The pool plugin with extra bindings. Tests only: nodejs_compat, since the shared store helpers use node:crypto and Buffer; the Worker itself needs no Node APIs. */
const worker = (bindings: Record<string, string> = {}) =>
  cloudflareTest({
    main: './worker/cloudflare/index.ts',
    wrangler: { configPath: './wrangler.toml' },
    miniflare: { compatibilityFlags: ['nodejs_compat'], bindings },
  });

/** The token and origin of test/worker/cloudflare/auth.test.ts. */
export const AUTH_TEST_BINDINGS = { DELTAFLARE_TOKEN: 'workers-test-token-0123456789abcdef', CORS_ORIGINS: 'https://app.example' };
/** The name the tests call the Worker by: an open Worker answers loopback names and ALLOWED_HOSTS only. */
const OPEN_TEST_BINDINGS = { ALLOWED_HOSTS: 'deltaflare.test' };
/** The small limits of test/worker/cloudflare/client-sessions.test.ts and hostile.test.ts. */
export const SMALL_LIMITS_TEST_BINDINGS = { ...OPEN_TEST_BINDINGS, MAX_SESSIONS_PER_CLIENT: '4', LIMITS: JSON.stringify(HOSTILE_LIMITS) };
const SMALL_LIMITS_TESTS = ['test/worker/cloudflare/client-sessions*.test.ts', 'test/worker/cloudflare/hostile*.test.ts'];
const ALL = ['test/worker/cloudflare/**/*.test.ts', 'test/worker/store/r2/**/*.test.ts'];

export default defineConfig({
  test: {
    // workerd's DecompressionStream rejects an internal promise that no code can handle when a deflate payload is
    // not deflate-raw (the endpoint answers MALFORMED; still reported with pipeThrough and every promise handled):
    // only that error is ignored, every other unhandled error fails the run.
    onUnhandledError: (e) => !(e.name === 'TypeError' && e.message === 'Decompression failed.'),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        plugins: [worker(OPEN_TEST_BINDINGS)],
        test: { name: 'workers', include: ALL, exclude: ['test/worker/cloudflare/auth*.test.ts', ...SMALL_LIMITS_TESTS] },
      },
      { extends: true, plugins: [worker(AUTH_TEST_BINDINGS)], test: { name: 'workers-auth', include: ['test/worker/cloudflare/auth*.test.ts'] } },
      { extends: true, plugins: [worker(SMALL_LIMITS_TEST_BINDINGS)], test: { name: 'workers-small-limits', include: SMALL_LIMITS_TESTS } },
    ],
  },
});
