import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // These run inside workerd: vitest.workers.config.ts.
    exclude: [...configDefaults.exclude, 'test/worker/cloudflare/**', 'test/worker/store/r2/**'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
