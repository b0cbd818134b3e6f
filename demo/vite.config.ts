// The demo page: `npm run build:demo` writes dist/demo, which `deltaflare serve`
// serves at `/`. Module workers (`worker.format: es`): the pool's worker entry is
// found from `new Worker(new URL(...), { type: 'module' })` in sdk/pool.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist/demo', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  worker: { format: 'es' },
});
