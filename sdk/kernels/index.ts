// deltaflare/kernels for Node and browsers: the module is compiled from bytes
// embedded at build time (base64), so no file lookup or bundler rule is needed.
import { Kernels, setDefaultKernels } from './api.js';
import { instantiate } from './instance.js';
import { scalarWasm, simdWasm } from './wasm.generated.js';

export * from './api.js';
export { simdSupported, KernelInstance } from './instance.js';

const compiled: Partial<Record<'simd' | 'scalar', Promise<WebAssembly.Module>>> = {};

/**
 * The compiled kernels module (SIMD or scalar build), compiled once per
 * thread and reused by every init() here; a pool posts it to its workers
 * (createNodePool), which then compile nothing.
 * @example const module = await compileKernels(simdSupported())
 */
export function compileKernels(simd: boolean): Promise<WebAssembly.Module> {
  const which = simd ? 'simd' : 'scalar';
  return (compiled[which] ??= WebAssembly.compile(decode(simd ? simdWasm : scalarWasm)));
}

const decode = (base64: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

/**
 * Loads the kernels (the SIMD build where the runtime supports it) and makes
 * them the default for the top-level functions. Await it once.
 * @example await init(); blake3(bytes)
 */
export async function init(options: { simd?: boolean } = {}): Promise<Kernels> {
  const instance = await instantiate(compileKernels, options.simd);
  const kernels = new Kernels(instance);
  setDefaultKernels(kernels);
  return kernels;
}
