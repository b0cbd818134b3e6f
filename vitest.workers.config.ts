// The Workers tests: test/workers/*.test.ts run inside workerd (the real
// runtime, with local R2 and Durable Objects) through the vitest pool.
// `npm test` runs this config after the Node one (vitest.config.ts).
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [cloudflareTest({ main: './worker/workers/index.ts', wrangler: { configPath: './wrangler.toml' },
    // Tests only: the shared store helpers use node:crypto and Buffer; the Worker itself needs no Node APIs.
    miniflare: { compatibilityFlags: ['nodejs_compat'] } })],
  test: {
    include: ['test/workers/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
