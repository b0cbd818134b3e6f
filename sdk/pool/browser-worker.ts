// Web Worker entry (module worker): exposes the worker API over comlink.
// Vite bundles it from `new Worker(new URL('./browser-worker.ts', import.meta.url), { type: 'module' })`.
import { expose } from 'comlink';
import { workerApi } from './worker-api.js';

expose(workerApi);
