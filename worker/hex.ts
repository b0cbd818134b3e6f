// Hex forms of digests: the shared helpers, plus the endpoint's BLAKE3-as-hex.
import type { Kernels } from '../sdk/kernels/api.js';
import { toHex } from '../sdk/protocol/hex.js';

export { fromHex, toHex } from '../sdk/protocol/hex.js';

/** BLAKE3 of `bytes` as hex. */
export function blake3Hex(k: Kernels, bytes: Uint8Array): string {
  return toHex(k.blake3(bytes));
}
