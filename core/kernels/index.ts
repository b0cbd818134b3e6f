// deltaflare/kernels for Node and browsers: the module is compiled from bytes
// embedded at build time (base64), so no file lookup or bundler rule is needed.
import { Kernels, setDefaultKernels } from './api.js';
import { DeltaflareError } from '../base/errors.js';
import type { KernelExports } from './abi.js';
import { KernelInstance, instantiate, simdSupported } from './instance.js';
import { scalarWasm, simdWasm } from '../../core/kernels/wasm.generated.js';

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
  compiled[which] ??= WebAssembly.compile(decode(simd ? simdWasm : scalarWasm));
  return compiled[which];
}

/** Base64 to bytes. A plain loop over atob's string: Uint8Array.from(s, fn) calls fn per byte and took ~9 ms for the 28 KB build in a CLI push profile. */
function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Loads the kernels (the SIMD build where the runtime supports it) and makes
 * them the default for the top-level functions. Await it once.
 * @example await init(); blake3(bytes)
 */
export async function init(
  options: {
    /** Use the SIMD build (default: when this runtime validates it) or force the scalar one (false). */
    simd?: boolean;
  } = {},
): Promise<Kernels> {
  const instance = await instantiate(compileKernels, options.simd);
  const kernels = new Kernels(instance);
  setDefaultKernels(kernels);
  return kernels;
}

let loadedSync: Kernels | undefined;

/**
 * The kernels, loaded synchronously (once per thread) and made the default:
 * for Node, which compiles a module of any size synchronously (~5 ms for
 * these 25 KB), so `createApp` from deltaflare/server needs no `await`.
 * Browsers refuse synchronous compiles of more than 4 KB on the main thread:
 * use `init()` there.
 * @example const app = createApp({ store, kernels: initSync() })
 */
export function initSync(): Kernels {
  if (loadedSync) return loadedSync;
  const simd = simdSupported();
  try {
    const module = new WebAssembly.Module(decode(simd ? simdWasm : scalarWasm));
    const instance = new WebAssembly.Instance(module, {});
    loadedSync = new Kernels(new KernelInstance(instance.exports as unknown as KernelExports, simd));
  } catch (cause) {
    throw new DeltaflareError('KERNELS_UNAVAILABLE', `cannot load the ${simd ? 'SIMD' : 'scalar'} kernels synchronously: ${cause}`, { cause });
  }
  setDefaultKernels(loadedSync);
  return loadedSync;
}
