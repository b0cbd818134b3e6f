// PLACEHOLDER until the BLAKE3 kernel lands (issue 2): signatures only.
import type { KernelInstance } from './instance.js';

const todo = (): never => {
  throw new Error('BLAKE3 kernel not built yet');
};
export function blake3(_k: KernelInstance, _bytes: Uint8Array): Uint8Array {
  return todo();
}
export function blake3Chunks(_k: KernelInstance, _bytes: Uint8Array, _ends: Uint32Array): Uint8Array {
  return todo();
}
export class Blake3Hasher {
  constructor(readonly k: KernelInstance) {}
  update(_bytes: Uint8Array): this {
    return todo();
  }
  digest(): Uint8Array {
    return todo();
  }
}
