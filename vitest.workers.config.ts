// The Workers tests: test/workers/*.test.ts run inside workerd (the real
// runtime, with local R2 and Durable Objects) through the vitest pool.
// `npm test` runs this config after the Node one (vitest.config.ts).
// Two projects: the open Worker (no token) and test/workers/auth*.test.ts,
// whose Worker has a token and a CORS origin as bindings (in production the
// token is a secret: `wrangler secret put DELTAFLARE_TOKEN`).
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/** The pool plugin with extra bindings. Tests only: nodejs_compat, since the shared store helpers use node:crypto and Buffer; the Worker itself needs no Node APIs. */
const worker = (bindings: Record<string, string> = {}) =>
  cloudflareTest({ main: './worker/workers/index.ts', wrangler: { configPath: './wrangler.toml' }, miniflare: { compatibilityFlags: ['nodejs_compat'], bindings } });

/** The token and origin of test/workers/auth.test.ts. */
export const AUTH_TEST_BINDINGS = { DELTAFLARE_TOKEN: 'workers-test-token', CORS_ORIGINS: 'https://app.example' };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, plugins: [worker()], test: { name: 'workers', include: ['test/workers/**/*.test.ts'], exclude: ['test/workers/**/auth*.test.ts'] } },
      { extends: true, plugins: [worker(AUTH_TEST_BINDINGS)], test: { name: 'workers-auth', include: ['test/workers/**/auth*.test.ts'] } },
    ],
  },
});
