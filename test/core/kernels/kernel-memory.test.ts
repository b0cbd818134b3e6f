// Inputs in kernel memory (Kernels.allocInput): every kernel entry read in
// place must give exactly what the copied path gives, on both builds; a view
// that memory growth detached, or one of scratch, must be refused.
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import type { Chunk } from '../../../core/kernels/chunker.js';
import { type Kernels, init } from '../../../core/kernels/index.js';

const builds: Record<string, Kernels> = {};
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
});

/** A copy of `bytes` placed in a fresh allocInput region of `k`. */
function inKernel(k: Kernels, bytes: Uint8Array): Uint8Array {
  const view = k.allocInput(bytes.length);
  view.set(bytes);
  return view;
}

/** Chunk ends every ~3 KiB, with empty chunks and one larger than blake3Chunks' 256 KiB group. */
function someEnds(n: number): Uint32Array {
  const ends: number[] = [];
  for (let e = 0; e < n; ) {
    e = Math.min(n, e + (ends.length === 7 ? 300_000 : ends.length % 5 === 0 ? 0 : 3000 + ((ends.length * 977) % 2000)));
    ends.push(e);
  }
  return Uint32Array.from(ends);
}

describe.each(['simd', 'scalar'])('kernel-memory inputs (%s build)', (name) => {
  const k = () => builds[name];

  it('should give every entry the same results in place as copied', () => {
    for (const n of [0, 1, 63, 1000, 131_072, 131_073, 700_001, 3_000_000]) {
      const bytes = new Uint8Array(randomBytes(n));
      const view = inKernel(k(), bytes);
      expect(view.buffer).toBe(k().instance.exports.memory.buffer);
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      expect(hex(k().blake3(view)), `blake3 n=${n}`).toBe(hex(k().blake3(bytes)));
      expect(k().crc32(view), `crc32 n=${n}`).toBe(zlib.crc32(bytes));
      expect(k().crc32(view, 12345)).toBe(k().crc32(bytes, 12345));
      const ends = someEnds(n);
      expect(hex(k().blake3Chunks(view, ends)), `blake3Chunks n=${n}`).toBe(hex(k().blake3Chunks(bytes, ends)));
      const h = k()
        .createBlake3()
        .update(view.subarray(0, n >> 1))
        .update(bytes.subarray(n >> 1));
      expect(hex(h.digest())).toBe(hex(k().blake3(bytes)));
      for (const options of [{}, { min: 64, avg: 256, max: 1024, level: 3 }, { min: 5000, avg: 30000, max: 300_000, blake3: true }]) {
        expect(k().chunk(view, options), `chunk n=${n}`).toEqual(k().chunk(bytes, options));
        expect(k().cutPoints(view, options)).toEqual(k().cutPoints(bytes, options));
      }
    }
  });

  it('should stream pieces in place, copied, and mixed to the same chunks as one-shot', () => {
    const bytes = new Uint8Array(randomBytes(2_500_000));
    const view = inKernel(k(), bytes);
    for (const options of [{}, { min: 64, avg: 256, max: 1024, level: 3 }, { min: 5000, avg: 30000, max: 300_000 }]) {
      const want = k().chunk(bytes, options);
      for (const sizes of [[2_500_000], [1, 70_000, 900_000], [100_000, 5, 3000, 600_000]]) {
        const chunker = k().createChunker(options);
        const got: Chunk[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const end = Math.min(bytes.length, at + sizes[i % sizes.length]);
          // Odd pieces come from kernel memory, even ones from a JS array.
          got.push(...chunker.push(i % 2 ? bytes.subarray(at, end) : view.subarray(at, end)));
          at = end;
        }
        got.push(...chunker.finish());
        expect(got, `${JSON.stringify(options)} ${sizes}`).toEqual(want);
      }
    }
  });

  it('should stay correct when copied calls run between in-place calls, with no memory growth', () => {
    const bytes = new Uint8Array(randomBytes(1 << 20));
    const other = new Uint8Array(randomBytes(900_000));
    const view = inKernel(k(), bytes);
    const size = k().instance.exports.memory.buffer.byteLength;
    const chunker = k().createChunker();
    const hasher = k().createBlake3();
    const got: Chunk[] = [];
    for (let at = 0; at < bytes.length; at += 100_000) {
      const piece = view.subarray(at, at + 100_000);
      got.push(...chunker.push(piece));
      hasher.update(piece);
      // Copied calls use scratch after the region: the region's bytes must survive them.
      expect(k().crc32(other)).toBe(zlib.crc32(other));
      expect(k().chunk(other, { blake3: true }).length).toBeGreaterThan(10);
      expect(k().blake3Chunks(other, someEnds(other.length)).length).toBeGreaterThan(0);
    }
    got.push(...chunker.finish());
    expect(got).toEqual(k().chunk(bytes));
    expect(hasher.digest()).toEqual(k().blake3(bytes));
    expect(view).toEqual(bytes);
    expect(k().instance.exports.memory.buffer.byteLength).toBe(size);
  });

  it('should throw for a view detached by memory growth, and give the bytes back through a new view', () => {
    const bytes = new Uint8Array(randomBytes(100_000));
    const view = inKernel(k(), bytes);
    // Copied chunking with max 16 MiB needs a window of 16.5 MiB: more than the reserve.
    k().cutPoints(new Uint8Array(20 << 20), { min: 1 << 20, avg: 4 << 20, max: 16 << 20 });
    expect(view.length).toBe(0);
    for (const call of [
      () => k().blake3(view),
      () => k().crc32(view),
      () => k().blake3Chunks(view, new Uint32Array(0)),
      () => k().createBlake3().update(view),
      () => k().chunk(view),
      () => k().cutPoints(view),
      () => k().createChunker().push(view),
      () => k().chunkRecords(view),
    ]) {
      expect(call).toThrow(DeltaflareError);
      expect(call).toThrow(/detached/);
    }
    const again = k().allocInput(bytes.length);
    expect(again).toEqual(bytes);
    expect(k().crc32(again)).toBe(zlib.crc32(bytes));
  });

  it('should refuse views of kernel memory outside the region (scratch)', () => {
    const view = k().allocInput(1000);
    const mem = k().instance.bytes;
    const scratch = mem.subarray(view.byteOffset + 1024, view.byteOffset + 2048);
    expect(() => k().crc32(scratch)).toThrow(/outside the allocInput\(\) region/);
    expect(() => k().blake3(mem.subarray(view.byteOffset, view.byteOffset + 1001))).toThrow(DeltaflareError);
    // A smaller region makes an older, longer view reach into scratch.
    k().allocInput(10);
    expect(() => k().chunk(view)).toThrow(/outside the allocInput\(\) region/);
    expect(() => k().allocInput(-1)).toThrow(/size -1 is below the minimum 0/);
  });
});
