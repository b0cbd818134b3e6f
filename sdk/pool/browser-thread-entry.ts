// Web Worker entry (module worker): exposes the worker API over comlink.
// Vite bundles it from `new Worker(new URL('./browser-thread-entry.ts', import.meta.url), { type: 'module' })`.
import { expose } from 'comlink';
import { threadApi } from './thread-api.js';

expose(threadApi);
