// CRC-32 kernel (assembly/crc32.ts) and its wrapper (core/kernels/crc32.ts),
// checked against node:zlib's crc32 on random inputs, in both builds.
import { randomBytes, randomInt } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import { crc32Shift } from '../../../core/kernels/crc32.js';
import { type Kernels, init } from '../../../core/kernels/index.js';

const builds: Record<string, Kernels> = {};
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
});

const concat = (a: Uint8Array, b: Uint8Array) => Buffer.concat([a, b]);

describe.each(['simd', 'scalar'])('crc32 (%s build)', (name) => {
  const k = () => builds[name];
  const wasm = () => k().instance.exports;

  it('should give the CRC-32/ISO-HDLC check value for "123456789"', () => {
    expect(k().crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(k().crc32(new Uint8Array(0))).toBe(0);
  });

  it('should equal zlib.crc32 for every length 0..1024 at every start alignment 0..15', () => {
    // The slicing loop reads 16-byte blocks and finishes byte by byte, so
    // every (alignment, length mod 16) pair takes a different path.
    const data = randomBytes(1024 + 16);
    const base = k().instance.scratch(data.length + 16);
    k().instance.bytes.set(data, base);
    const wrong: string[] = [];
    for (let align = 0; align < 16; align++) {
      for (let n = 0; n <= 1024; n++) {
        const got = wasm().crc32Update(0, base + align, n) >>> 0;
        if (got !== zlib.crc32(data.subarray(align, align + n))) wrong.push(`align ${align} length ${n}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('should equal zlib.crc32 for 5 MiB and for 64 MiB + 13 bytes', () => {
    for (const size of [5 << 20, (64 << 20) + 13]) {
      const data = randomBytes(size);
      expect(k().crc32(data)).toBe(zlib.crc32(data));
    }
  });

  it('should continue a given crc like zlib.crc32(bytes, crc)', () => {
    const data = randomBytes(100_003);
    for (const initial of [0, 1, 0xcbf43926, 0xffffffff]) {
      expect(k().crc32(data, initial)).toBe(zlib.crc32(data, initial));
    }
  });

  it('should give the one-shot crc when pieces of random sizes are chained', () => {
    const data = randomBytes(3 << 20);
    const whole = zlib.crc32(data);
    for (let round = 0; round < 5; round++) {
      let crc = 0;
      for (let at = 0; at < data.length; ) {
        const size = Math.min(data.length - at, randomInt(0, round < 3 ? 300 : 400_000));
        crc = k().crc32(data.subarray(at, at + size), crc);
        at += size;
      }
      expect(crc).toBe(whole);
    }
  });

  it('should obey crc32Combine(crc(A), crc(B), |B|) === zlib.crc32(A||B), including empty A or B', () => {
    const data = randomBytes(4 << 20);
    const splits = [0, 1, 15, 16, 17, data.length - 1, data.length, ...Array.from({ length: 20 }, () => randomInt(0, data.length + 1))];
    for (const at of splits) {
      const a = data.subarray(0, at);
      const b = data.subarray(at);
      expect(k().crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length)).toBe(zlib.crc32(data));
    }
  });

  it('should obey the combine law for random small A and B (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        expect(k().crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length)).toBe(zlib.crc32(concat(a, b)));
      }),
      { numRuns: 300 },
    );
  });

  it('should make crc32Shift agree with combine and derive a range crc from two prefix crcs', () => {
    const data = randomBytes(1 << 20);
    for (let i = 0; i < 20; i++) {
      const from = randomInt(0, data.length + 1);
      const to = randomInt(from, data.length + 1);
      const prefixA = zlib.crc32(data.subarray(0, from));
      const prefixAB = zlib.crc32(data.subarray(0, to));
      const range = prefixAB ^ crc32Shift(k().instance, prefixA, to - from);
      expect(range >>> 0).toBe(zlib.crc32(data.subarray(from, to)));
      const crcB = zlib.crc32(data.subarray(from, to));
      expect(k().crc32Combine(prefixA, crcB, to - from)).toBe((crc32Shift(k().instance, prefixA, to - from) ^ crcB) >>> 0);
    }
  });

  it('should shift by a + b like shifting by a then by b, for lengths up to 2^53 - 1', () => {
    const shift = (c: number, n: number) => crc32Shift(k().instance, c, n);
    const crc = zlib.crc32(randomBytes(64));
    for (const [a, b] of [
      [0, 0],
      [1, 2 ** 40],
      [2 ** 32, 2 ** 32],
      [2 ** 52, 2 ** 52 - 1],
      [randomInt(0, 2 ** 47), randomInt(0, 2 ** 47)],
    ]) {
      expect(shift(shift(crc, a), b)).toBe(shift(crc, a + b));
    }
    expect(shift(crc, 0)).toBe(crc);
    expect(shift(0, 12345)).toBe(0);
  });

  it('should make crc32Raw and crc32Step16 agree with crc32Update at any alignment', () => {
    const data = randomBytes(16 * 64 + 32);
    const base = k().instance.scratch(data.length);
    k().instance.bytes.set(data, base);
    for (const align of [0, 1, 3, 7, 8, 15]) {
      for (const initial of [0, 0xdeadbeef]) {
        // Raw states are the inverted CRC; Step16 advances one 16-byte block.
        let state = ~initial;
        for (let block = 0; block < 64; block++) state = wasm().crc32Step16(state, base + align + 16 * block);
        const expected = zlib.crc32(data.subarray(align, align + 16 * 64), initial);
        expect(~state >>> 0).toBe(expected);
        expect(~wasm().crc32Raw(~initial, base + align, 16 * 64) >>> 0).toBe(expected);
        // Raw states carry across calls of any length, inverted once at the end.
        const mid = 16 * 10 + align;
        const carried = wasm().crc32Raw(wasm().crc32Raw(~initial, base + align, mid), base + align + mid, 16 * 64 - mid);
        expect(~carried >>> 0).toBe(expected);
      }
    }
  });

  it('should throw INVALID_ARGUMENT naming the bound for a crc or length out of range', () => {
    const bytes = new Uint8Array(4);
    const cases: [() => unknown, RegExp][] = [
      [() => k().crc32(bytes, -1), /crc -1 is below the minimum 0/],
      [() => k().crc32(bytes, 2 ** 32), /crc 4294967296 is above the maximum 4294967295/],
      [() => k().crc32(bytes, 1.5), /crc must be an integer/],
      [() => k().crc32(bytes, Number.NaN), /crc must be an integer/],
      [() => k().crc32Combine(-1, 0, 0), /crcA -1 is below the minimum 0/],
      [() => k().crc32Combine(0, 2 ** 32, 0), /crcB 4294967296 is above the maximum 4294967295/],
      [() => k().crc32Combine(0, 0, -1), /lengthB -1 is below the minimum 0/],
      [() => k().crc32Combine(0, 0, 0.5), /lengthB must be an integer/],
      [() => k().crc32Combine(0, 0, 2 ** 53), /lengthB 9007199254740992 is above the maximum 9007199254740991/],
      [() => crc32Shift(k().instance, 0, -3), /length -3 is below the minimum 0/],
    ];
    for (const [call, message] of cases) {
      expect(call).toThrow(DeltaflareError);
      expect(call).toThrow(message);
    }
  });
});
