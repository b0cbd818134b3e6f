// deltaflare/kernels on Cloudflare Workers: workerd forbids compiling wasm
// from bytes, so the build's .wasm files are imported as precompiled modules.
import scalarModule from '../../build/kernels-scalar.wasm';
import simdModule from '../../build/kernels.wasm';
import { Kernels, setDefaultKernels } from './api.js';
import { instantiate } from './instance.js';

export * from './api.js';
export { simdSupported, KernelInstance } from './instance.js';

/** Loads the kernels and makes them the default. @example await init(); blake3(bytes) */
export async function init(options: { simd?: boolean } = {}): Promise<Kernels> {
  const kernels = new Kernels(await instantiate((simd) => (simd ? simdModule : scalarModule), options.simd));
  setDefaultKernels(kernels);
  return kernels;
}
