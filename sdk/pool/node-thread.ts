// Starting the pool's worker_threads, apart from the pool itself: this module
// loads no comlink and no kernels, so the CLI can start the threads first
// thing (they boot while the rest of the client loads) and hand them to
// nodePool() later.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

// From TypeScript sources (tests, tsx) the worker is a .ts file that Node can
// only load through tsx; from dist it is plain .js. Node 20 does not apply
// hooks from a worker's `execArgv: ['--import', 'tsx']` to the worker's entry
// (ERR_UNKNOWN_FILE_EXTENSION), so a small eval'd script registers tsx's
// hooks first and then imports the entry.
const fromSource = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(fromSource ? './node-thread-entry.ts' : './node-thread-entry.js', import.meta.url);
// tsx/esm/api resolves (require conditions) to index.cjs, whose register() looks
// for a wrong relative path in tsx 4.23; its ESM twin index.mjs works.
const tsxEntry = () => {
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  );
  return `import(${JSON.stringify(api.href)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
};

/** Starts the pool's thread entry (node-thread-entry.ts / .js) as a worker_thread. */
export function startNodeThread(): Worker {
  return fromSource ? new Worker(tsxEntry(), { eval: true }) : new Worker(WORKER_URL);
}
