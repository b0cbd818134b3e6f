import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // These run inside workerd: vitest.workers.config.ts.
    exclude: [...configDefaults.exclude, 'test/worker/cloudflare/**', 'test/worker/store/r2/**'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The CLI keeps resume records under XDG_STATE_HOME: a folder of this run's, not the user's (or CI's) home.
    env: { XDG_STATE_HOME: mkdtempSync(join(tmpdir(), 'deltaflare-test-state-')) },
  },
});
