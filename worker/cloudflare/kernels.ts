// The kernels, instantiated once per isolate from the imported .wasm modules
// (workerd forbids compiling wasm from bytes).
import type { Kernels } from '../../core/kernels/api.js';
import { init } from '../../core/kernels/workerd.js';

let kernels: Promise<Kernels> | undefined;

/** The isolate's kernels. @example const k = await workerKernels() */
export function workerKernels(): Promise<Kernels> {
  kernels ??= init();
  return kernels;
}
