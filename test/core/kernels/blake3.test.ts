import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash as jitHash } from 'blake3-jit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import { type Kernels, init } from '../../../core/kernels/index.js';

// Official vectors (BLAKE3-team/BLAKE3 test_vectors): input i is bytes n % 251.
const vectors: { cases: { input_len: number; hash: string }[] } = JSON.parse(readFileSync(new URL('../../fixtures/blake3.json', import.meta.url), 'utf8'));
const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// Piece sizes around the block (64), chunk (1024) and feed piece (128 KiB) boundaries.
const EDGES = [0, 1, 63, 64, 65, 1023, 1024, 1025, 131071, 131072, 131073];

/** Chunk sizes 0..70 KiB, many at or next to multiples of 1024 and 64. */
const chunkSize = fc.oneof(
  fc.integer({ min: 0, max: 70 * 1024 }),
  fc.tuple(fc.integer({ min: 0, max: 70 }), fc.integer({ min: -1, max: 1 })).map(([k, d]) => Math.max(0, k * 1024 + d)),
  fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: -1, max: 1 })).map(([k, d]) => Math.max(0, k * 64 + d)),
);

const endsOf = (sizes: number[]) => {
  const ends = new Uint32Array(sizes.length);
  let at = 0;
  for (const [i, s] of sizes.entries()) {
    at += s;
    ends[i] = at;
  }
  return ends;
};

const builds: Record<string, Kernels> = {};
let dir: string;
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
  dir = mkdtempSync(join(tmpdir(), 'deltaflare-blake3-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['simd', 'scalar'])('blake3 (%s build)', (name) => {
  const k = () => builds[name];

  it('should equal all official test vectors, one-shot and in pieces of 1 and 1023 bytes', () => {
    expect(vectors.cases.length).toBe(35);
    for (const { input_len, hash } of vectors.cases) {
      const input = pattern(input_len);
      const want = hash.slice(0, 64);
      expect(hex(k().blake3(input)), `length ${input_len}`).toBe(want);
      for (const step of [1, 1023]) {
        if (step === 1 && input_len > 4096) continue;
        const h = k().createBlake3();
        for (let i = 0; i < input_len; i += step) h.update(input.subarray(i, i + step));
        expect(hex(h.digest()), `length ${input_len} in ${step}-byte pieces`).toBe(want);
      }
    }
  });

  it('should equal b3sum on a 64 MiB random file with an odd tail, one-shot and incremental', () => {
    const data = randomBytes((64 << 20) + 12345);
    const file = join(dir, `random-${name}.bin`);
    writeFileSync(file, data);
    // No fallback: CI installs b3sum, and a missing one must fail this test.
    const want = execFileSync('b3sum', ['--no-names', file], { encoding: 'utf8' }).trim();
    expect(want).toMatch(/^[0-9a-f]{64}$/);
    expect(hex(k().blake3(data))).toBe(want);
    const h = k().createBlake3();
    for (let i = 0; i < data.length; i += 1_000_003) h.update(data.subarray(i, i + 1_000_003));
    expect(hex(h.digest())).toBe(want);
  });

  it('should equal blake3-jit for every length 0..2100 and for lengths around tree boundaries', () => {
    const data = randomBytes(600 * 1024);
    const lengths = [...Array(2101).keys()];
    for (const chunks of [3, 4, 5, 7, 8, 9, 127, 128, 129, 255, 256, 257, 511, 512, 513]) {
      lengths.push(chunks * 1024 - 1, chunks * 1024, chunks * 1024 + 1);
    }
    for (const n of lengths) expect(hex(k().blake3(data.subarray(0, n))), `length ${n}`).toBe(hex(jitHash(data.subarray(0, n))));
  });

  it('should give the one-shot digest when fed in random pieces (including 0, 1, 63..65, 1023..1025, 128 KiB ± 1)', () => {
    const data = randomBytes(1 << 20);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: data.length }),
        fc.array(fc.oneof(fc.constantFrom(...EDGES), fc.integer({ min: 0, max: 300_000 })), { minLength: 1, maxLength: 40 }),
        (length, sizes) => {
          const input = data.subarray(0, length);
          const h = k().createBlake3();
          let at = 0;
          for (let i = 0; at < length; i++) {
            const size = sizes[i % sizes.length] || (i % sizes.length === sizes.length - 1 ? 1 : 0);
            h.update(input.subarray(at, at + size));
            at += size;
          }
          expect(hex(h.digest())).toBe(hex(k().blake3(input)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('should keep interleaved hashers, one-shots and blake3Chunks apart', () => {
    const inputs = [randomBytes(300_000), randomBytes(5000), randomBytes(1024), randomBytes(700_001)];
    const hashers = inputs.map(() => k().createBlake3());
    const at = inputs.map(() => 0);
    for (let round = 0; at.some((a, i) => a < inputs[i].length); round++) {
      for (let i = 0; i < inputs.length; i++) {
        const size = EDGES[(round + i) % EDGES.length] + round;
        hashers[i].update(inputs[i].subarray(at[i], at[i] + size));
        at[i] += size;
        // Other users of the module in between: a large one-shot and chunks.
        if (round % 3 === 0) k().blake3(inputs[3]);
        if (round % 4 === 1) k().blake3Chunks(inputs[0], new Uint32Array([10, 5000, 200_000]));
      }
    }
    for (const [i, input] of inputs.entries()) expect(hex(hashers[i].digest()), `hasher ${i}`).toBe(hex(k().blake3(input)));
  });

  it('should let a hasher continue after digest()', () => {
    const data = randomBytes(200_000);
    const h = k().createBlake3().update(data.subarray(0, 150_000));
    expect(hex(h.digest())).toBe(hex(k().blake3(data.subarray(0, 150_000))));
    expect(hex(h.digest())).toBe(hex(k().blake3(data.subarray(0, 150_000))));
    expect(hex(h.update(data.subarray(150_000)).digest())).toBe(hex(k().blake3(data)));
  });

  it('should give each chunk its one-shot digest for random chunk layouts', () => {
    fc.assert(
      fc.property(fc.array(chunkSize, { minLength: 0, maxLength: 120 }), fc.integer({ min: 0, max: 3000 }), (sizes, trailing) => {
        const ends = endsOf(sizes);
        const data = randomBytes((sizes.length ? ends[sizes.length - 1] : 0) + trailing);
        const digests = k().blake3Chunks(data, ends);
        expect(digests.length).toBe(32 * sizes.length);
        let start = 0;
        for (let i = 0; i < sizes.length; i++) {
          expect(hex(digests.subarray(32 * i, 32 * i + 32)), `chunk ${i} of ${sizes[i]} bytes`).toBe(hex(k().blake3(data.subarray(start, ends[i]))));
          start = ends[i];
        }
      }),
      { numRuns: 80 },
    );
  });

  it('should handle chunks larger than a group, many empty chunks, and 16 MiB of 2-64 KiB chunks', () => {
    const data = randomBytes(16 << 20);
    const sizes = [3 << 20, 0, 0, 1, (1 << 20) + 1, 1 << 20];
    for (let i = 0; i < 20000; i++) sizes.push(0);
    let total = sizes.reduce((a, b) => a + b, 0);
    while (total < data.length - 70_000) {
      const s = 2048 + Math.floor(Math.random() * 63 * 1024);
      sizes.push(s);
      total += s;
    }
    const ends = endsOf(sizes);
    const digests = k().blake3Chunks(data, ends);
    let start = 0;
    for (let i = 0; i < sizes.length; i++) {
      if (sizes[i] === 0 && i > 10 && i < 20006 && i % 997 !== 0) continue; // spot-check the run of empties
      expect(hex(digests.subarray(32 * i, 32 * i + 32)), `chunk ${i}`).toBe(hex(k().blake3(data.subarray(start, ends[i]))));
      start = ends[i];
    }
    expect(hex(digests.subarray(32 * 7, 32 * 8))).toBe(hex(jitHash(new Uint8Array(0))));
  });

  it('should keep wasm memory bounded for a 64 MiB input, one-shot and as chunks', async () => {
    const fresh = await init({ simd: name === 'simd' });
    const data = randomBytes(64 << 20);
    fresh.blake3(data);
    const sizes: number[] = [];
    for (let total = 0; total < data.length - 65536; ) {
      const size = Math.min(2048 + ((total * 7919) % 63000), 65536);
      sizes.push(size);
      total += size;
    }
    fresh.blake3Chunks(data, endsOf(sizes));
    expect(fresh.instance.exports.memory.buffer.byteLength).toBeLessThan(8 << 20);
  });

  it('should reject ends that decrease or pass the end of the input', () => {
    const data = new Uint8Array(100);
    expect(() => k().blake3Chunks(data, new Uint32Array([10, 5]))).toThrow(DeltaflareError);
    expect(() => k().blake3Chunks(data, new Uint32Array([10, 101]))).toThrow(/above the input length 100/);
    expect(() => k().blake3Chunks(data, [10] as unknown as Uint32Array)).toThrow(/Uint32Array/);
    expect(() => k().blake3('abc' as unknown as Uint8Array)).toThrow(/Uint8Array/);
  });
});

describe('blake3 SIMD and scalar paths', () => {
  it('should agree on random inputs and chunk layouts', () => {
    fc.assert(
      fc.property(fc.array(chunkSize, { minLength: 1, maxLength: 60 }), (sizes) => {
        const ends = endsOf(sizes);
        const data = randomBytes(ends[sizes.length - 1]);
        expect(hex(builds.simd.blake3Chunks(data, ends))).toBe(hex(builds.scalar.blake3Chunks(data, ends)));
        expect(hex(builds.simd.blake3(data))).toBe(hex(builds.scalar.blake3(data)));
      }),
      { numRuns: 40 },
    );
  });
});
