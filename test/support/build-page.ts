// Builds a page of the tests or benchmarks with Vite as a web app would
// (module workers, relative base), `deltaflare/browser` resolved to the
// SDK's source.
import { join } from 'node:path';
import { build } from 'vite';

/** Builds the Vite page in `root` into `outDir`. @example await buildPage(join(import.meta.dirname, 'pull-page'), out) */
export async function buildPage(root: string, outDir: string): Promise<void> {
  await build({
    configFile: false,
    root,
    base: './',
    logLevel: 'warn',
    resolve: { alias: { 'deltaflare/browser': join(import.meta.dirname, '../../sdk/browser/index.ts') } },
    build: { outDir, emptyOutDir: true, target: 'es2022' },
    worker: { format: 'es' },
  });
}
