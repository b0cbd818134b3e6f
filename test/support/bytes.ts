// Byte helpers shared by the test suites (Node and workerd alike: no node: imports).

/** xorshift32 bytes from a seed: test files without fast-check shrinking megabytes. */
export function randomBytes(n: number, seed: number): Uint8Array {
  let x = (Math.imul(seed, 0x9e3779b1) ^ 0x85ebca6b) >>> 0 || 1; // distinct seeds, distinct streams (seed | 1 would pair 6 and 7)
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The parts one after another in a new array. */
export const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
