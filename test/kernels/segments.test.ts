// Parallel chunking (sdk/kernels/segments.ts): a buffer split into K segments,
// each scanned alone and then stitched, must give exactly the sequential cut
// points (test reference: referenceChunks) and per-chunk CRCs (zlib.crc32),
// for any K and any segment sizes, down to empty segments.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Chunk, type Kernels, init } from '../../sdk/kernels/index.js';
import { type ReferenceParams, referenceChunks } from './fastcdc-reference.js';
import { randomBytes } from '../bytes.js';

const builds: Record<string, Kernels> = {};
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
});

const SMALL = { min: 64, avg: 256, max: 1024, level: 1 };
const PARAMS: ReferenceParams[] = [
  SMALL,
  { min: 99, avg: 300, max: 1025, level: 2 }, // odd sizes: the reference rounds min/avg/max down to even
  { min: 64, avg: 256, max: 2048, level: 3 }, // MASKS[11] and MASKS[5]
  { min: 256, avg: 1024, max: 4096, level: 0 },
  { min: 700, avg: 512, max: 2048, level: 1 }, // min > avg: every tested position uses the large mask
  { min: 2048, avg: 8192, max: 65536, level: 1 }, // the SDK's default
];

/** Scans data split at `bounds` (ascending, 0 and data.length included) and stitches, as K workers would. */
function segmented(k: Kernels, data: Uint8Array, bounds: number[], p: ReferenceParams): Chunk[] {
  const stitcher = k.createSegmentStitcher(p);
  const out: Chunk[] = [];
  for (let j = 0; j + 1 < bounds.length; j++) {
    const [a, b] = [bounds[j], bounds[j + 1]];
    const segment = data.slice(a, b); // a copy: the scan sees nothing beyond it
    const scan = k.scanSegment(segment, { offset: a, lookbehind: data.slice(Math.max(0, a - 47), a) }, p);
    out.push(...stitcher.push(scan, segment));
  }
  return [...out, ...stitcher.finish()];
}

/** The sequential answer: reference cut points, zlib CRCs. */
function expected(data: Uint8Array, p: ReferenceParams): Chunk[] {
  let offset = 0;
  return referenceChunks(data, p).map((length) => {
    const c = { offset, length, crc32: zlib.crc32(data.subarray(offset, offset + length)) };
    offset += length;
    return c;
  });
}

const GEAR48 = Array.from({ length: 256 }, (_, b) => {
  const d = createHash('md5').update(Buffer.alloc(64, b)).digest();
  return d.readUInt16BE(2) * 2 ** 32 + d.readUInt32BE(4);
});
const MASK_L: Record<number, number> = { 6: 0x1803110, 7: 0x18035100, 8: 0x1800035300, 9: 0x19000353000, 10: 0x590003530000 };
const passes = (h: number, m: number) => ((Math.floor(h / 2 ** 32) & Math.floor(m / 2 ** 32)) | (h % 2 ** 32 & m % 2 ** 32)) === 0;

/** Data whose free-running hash passes a small mask at most positions: thousands of candidates per KiB. */
function dense(n: number, seed: number): Uint8Array {
  const noise = randomBytes(n, seed);
  const out = new Uint8Array(n);
  let h = 0;
  for (let i = 0; i < n; i++) {
    let v = noise[i];
    for (let t = 0; t < 256; t++) {
      const w = (noise[i] + t) & 255;
      if (passes((h * 2 + GEAR48[w]) % 2 ** 48, MASK_L[7])) {
        v = w;
        break;
      }
    }
    out[i] = v;
    h = (h * 2 + GEAR48[v]) % 2 ** 48;
  }
  return out;
}

/**
 * Data that repeats a 2-byte unit whose steady-state hash passes MASKS[12],
 * the default params' large mask: a candidate every 2 bytes (avg 8 KiB).
 */
const periodic = (() => {
  let unit: number[] | undefined;
  return (n: number) => {
    unit ??= (() => {
      for (let u = 0; u < 65536; u++) {
        let h = 0;
        for (let i = 0; i < 50; i++) h = (h * 2 + GEAR48[i % 2 ? u & 255 : u >> 8]) % 2 ** 48;
        if (passes(h, 0xd90103530000)) return [u >> 8, u & 255];
      }
      throw new Error('no 2-byte unit passes');
    })();
    return Uint8Array.from({ length: n }, (_, i) => unit![i % 2]);
  };
})();

const KINDS: Record<string, (n: number, seed: number) => Uint8Array> = {
  random: randomBytes,
  zeros: (n) => new Uint8Array(n),
  pattern: (n, seed) => {
    const unit = randomBytes(1 + (seed % 37), seed);
    return Uint8Array.from({ length: n }, (_, i) => unit[i % unit.length]);
  },
  dense,
  periodic,
  // stretches of each, so chunks cross from one regime into another
  mixed: (n, seed) => {
    const out = randomBytes(n, seed);
    out.fill(0, n >> 3, n >> 2);
    out.set(dense(n >> 3, seed + 1), n >> 1);
    out.set(periodic(n >> 3), (n >> 1) + (n >> 2));
    return out;
  },
};

/** K - 1 cut positions: uniform, or clustered so many segments are 0..100 bytes (< min, < 48). */
const boundsArb = (n: number) =>
  fc
    .tuple(
      fc.array(fc.integer({ min: 0, max: n }), { maxLength: 15 }),
      fc.integer({ min: 0, max: n }),
      fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 15 }),
    )
    .map(([uniform, at, steps]) => {
      let x = at;
      const clustered = steps.map((step) => (x = Math.min(n, x + step)));
      return [0, ...[...clustered, ...uniform].slice(0, 15).sort((a, b) => a - b), n];
    });

/** 0, K - 1 pseudo-random cuts in [0, n], n. */
function splits(K: number, n: number, seed: number): number[] {
  const r = randomBytes(K * 3, seed);
  const cuts = Array.from({ length: K - 1 }, (_, i) => ((r[3 * i] << 16) | (r[3 * i + 1] << 8) | r[3 * i + 2]) % (n + 1));
  return [0, ...cuts.sort((a, b) => a - b), n];
}

describe.each(['simd', 'scalar'])('segmented FastCDC-2020 (%s build)', (name) => {
  const k = () => builds[name];

  it('should equal the sequential chunks for any data, K (1..16), segment sizes and params', () => {
    const n = 24_000;
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(KINDS)),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom(...PARAMS.slice(0, 5)),
        boundsArb(n),
        (kind, seed, p, bounds) => {
          const data = KINDS[kind](n, seed);
          expect(segmented(k(), data, bounds, p)).toEqual(expected(data, p));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('should equal the sequential chunks with the default params on 2 MiB, K = 1..16', () => {
    const p = PARAMS[5];
    for (const kind of ['random', 'zeros', 'periodic', 'mixed']) {
      const data = KINDS[kind](2 << 20, 7);
      const want = expected(data, p);
      for (const K of [1, 2, 3, 16]) {
        expect(segmented(k(), data, splits(K, data.length, K), p), `${kind} K=${K}`).toEqual(want);
      }
    }
  });

  it('should be exact with segment boundaries at and around every cut and every recheck window', () => {
    // Boundaries at c-1..c+1, c+m0-1..c+m0+1, c+m0+46..c+m0+48: a pass on a
    // segment's last byte, windows split into 1-byte segments, cuts at starts.
    for (const p of PARAMS.slice(0, 5)) {
      for (const kind of ['random', 'dense', 'zeros']) {
        const data = KINDS[kind](12_000, 3);
        const want = expected(data, p);
        const m0 = 2 * Math.floor(p.min / 2);
        const set = new Set<number>();
        for (const c of want) {
          for (const d of [-1, 0, 1, m0 - 1, m0, m0 + 1, m0 + 46, m0 + 47, m0 + 48]) set.add(c.offset + d);
        }
        const bounds = [0, ...[...set].filter((x) => x > 0 && x < data.length).sort((x, y) => x - y), data.length];
        expect(segmented(k(), data, bounds, p), `${kind} ${JSON.stringify(p)}`).toEqual(want);
      }
    }
  });

  it('should end the file like the reference when it stops just after a pass', () => {
    // A pass at an even distance d on the last byte is not tested by the
    // reference (it tests d < 2*floor(remaining/2)); one more byte makes it a cut.
    const p = SMALL;
    const data = randomBytes(20_000, 11);
    for (const c of expected(data, p).slice(0, 40)) {
      for (const end of [c.offset + c.length, c.offset + c.length + 1, c.offset + c.length + 2]) {
        const cut = data.subarray(0, end);
        const want = expected(cut, p);
        expect(segmented(k(), cut, [0, end >> 1, end - 1, end], p)).toEqual(want);
        expect(segmented(k(), cut, [0, end], p)).toEqual(want);
      }
    }
  });

  it('should exercise every way a chunk ends: window pass, candidate, forced at max, end of file', () => {
    // Guards the tests above against data that never reaches a path.
    const p = SMALL;
    const m0 = 2 * Math.floor(p.min / 2);
    const lengths = [...referenceChunks(randomBytes(200_000, 5), p), ...referenceChunks(new Uint8Array(5000), p)];
    expect(lengths.filter((n) => n >= m0 && n < m0 + 47).length).toBeGreaterThan(10); // recheck window
    expect(lengths.filter((n) => n >= m0 + 47 && n < p.max).length).toBeGreaterThan(100); // candidates
    expect(lengths.filter((n) => n === p.max).length).toBeGreaterThan(3);
    // and candidate-dense data for both scan loops (small masks, and the default's)
    expect(k().scanSegment(dense(20_000, 1), { offset: 0 }, p).candidates.length).toBeGreaterThan(10_000);
    expect(k().scanSegment(periodic(100_000), { offset: 0 }, PARAMS[5]).candidates.length).toBeGreaterThan(40_000);
  });

  it('should give chunks with no segments pushed, and for empty segments anywhere', () => {
    const p = SMALL;
    expect(segmented(k(), new Uint8Array(0), [0, 0], p)).toEqual([]);
    const data = randomBytes(5000, 9);
    expect(segmented(k(), data, [0, 0, 0, 1000, 1000, 5000, 5000], p)).toEqual(expected(data, p));
    expect(segmented(k(), data.subarray(0, 10), [0, 3, 3, 10], p)).toEqual(expected(data.subarray(0, 10), p));
  });

  it('should refuse segments out of order, scans made with other params, and a short lookbehind', () => {
    const data = randomBytes(4000, 2);
    const s0 = k().scanSegment(data.subarray(0, 2000), { offset: 0 }, SMALL);
    const s1 = k().scanSegment(data.subarray(2000), { offset: 2000, lookbehind: data.subarray(1953, 2000) }, SMALL);
    expect(() => k().createSegmentStitcher(SMALL).push(s1, data.subarray(2000))).toThrow(/offset 2000, expected the next at 0/);
    expect(() => k().createSegmentStitcher({ ...SMALL, level: 2 }).push(s0, data.subarray(0, 2000))).toThrow(/params/);
    expect(() => k().createSegmentStitcher(SMALL).push(s0, data.subarray(0, 1999))).toThrow(/differ/);
    expect(() => k().scanSegment(data.subarray(2000), { offset: 2000, lookbehind: data.subarray(1960, 2000) }, SMALL)).toThrow(
      /lookbehind length 40 is below the minimum 47/,
    );
    expect(() => k().createSegmentStitcher({ min: 64, avg: 8192, max: 4096 })).toThrow(/avg 8192 is above the maximum 4096/);
    expect(() => k().createSegmentStitcher({ min: 8192, avg: 2048, max: 4096 })).toThrow(/min 8192 is above the maximum 4096/);
  });
});

describe('segmented vs the sequential kernel', () => {
  const ready = (() => {
    try {
      return Array.isArray(builds.simd?.chunk(new Uint8Array(10)));
    } catch {
      return false;
    }
  });

  it('should equal chunk() for random, zero, dense, periodic and mixed data (both builds)', (ctx) => {
    if (!ready()) ctx.skip(); // until the sequential kernel lands (chunker.ts)
    for (const name of ['simd', 'scalar']) {
      for (const p of PARAMS) {
        for (const kind of ['random', 'zeros', 'dense', 'periodic', 'mixed']) {
          const data = KINDS[kind](kind === 'dense' ? 30_000 : 300_000, 13);
          const bounds = [0, 5, 1000, 1040, 100_000, data.length >> 1, data.length];
          const want = builds[name].chunk(data, p).map(({ offset, length, crc32 }) => ({ offset, length, crc32 }));
          expect(segmented(builds[name], data, bounds.filter((b) => b <= data.length).sort((x, y) => x - y), p)).toEqual(want);
        }
      }
    }
  });
});
