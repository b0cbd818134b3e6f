// The one module JavaScript loads: every kernel's exports, built twice
// (with and without wasm SIMD; see scripts/build-wasm.mjs). Kernels branch on
// the compile-time constant ASC_FEATURE_SIMD, so both builds come from one source.
export { scratch } from './scratch';
export * from './crc32';
export * from './blake3';
export * from './fastcdc';
