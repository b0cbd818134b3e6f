// deltaflare/kernels for Node and browsers: the module is compiled from bytes
// embedded at build time (base64), so no file lookup or bundler rule is needed.
import { Kernels, setDefaultKernels } from './api.js';
import { instantiate } from './instance.js';
import { scalarWasm, simdWasm } from './wasm.generated.js';

export * from './api.js';
export { simdSupported, KernelInstance } from './instance.js';

const decode = (base64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

/**
 * Loads the kernels (the SIMD build where the runtime supports it) and makes
 * them the default for the top-level functions. Await it once.
 * @example await init(); blake3(bytes)
 */
export async function init(options: { simd?: boolean } = {}): Promise<Kernels> {
  const instance = await instantiate((simd) => WebAssembly.compile(decode(simd ? simdWasm : scalarWasm)), options.simd);
  const kernels = new Kernels(instance);
  setDefaultKernels(kernels);
  return kernels;
}
