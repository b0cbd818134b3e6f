// The signature pass (sdk/signatures/pass.ts) on real worker_threads pools: the
// batches must concatenate to exactly k.chunk(wholeFile, { blake3: true })
// for any worker count and segment size, stream in file order with bounded
// memory, and end (never hang) on abort, worker errors and dead workers.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import { type Kernels, init } from '../../../core/kernels/index.js';
import { createNodePool, poolWorker, startNodeThread } from '../../../sdk/pool/node-pool.js';
import { WorkerPool } from '../../../sdk/pool/pool.js';
import type { ThreadApi } from '../../../sdk/pool/thread-api.js';
import type { ChunkingSpec } from '../../../core/protocol/chunking.js';
import { type ChunkBatch, type SignatureOptions, signatures } from '../../../sdk/signatures/pass.js';
import { type SyncSource, bytesSource } from '../../../sdk/source.js';
import { randomBytes } from '../../support/bytes.js';

let k: Kernels;
const pools: WorkerPool<ThreadApi>[] = []; // 1, 2 and 3 workers
beforeAll(async () => {
  k = await init();
  for (const size of [1, 2, 3]) pools.push(await createNodePool(size));
});
afterAll(() => {
  for (const p of pools) p.terminate();
});

const DEFAULT: ChunkingSpec = { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 };
const SMALL: ChunkingSpec = { kind: 'cdc', min: 64, avg: 256, max: 1024, level: 2 };

const IMAGE = new Uint8Array(readFileSync(new URL('../../fixtures/SekienAkashita.jpg', import.meta.url)));
const image = (n: number) => Uint8Array.from({ length: n }, (_, i) => IMAGE[i % IMAGE.length]);

async function collect(source: SyncSource, options: SignatureOptions): Promise<ChunkBatch[]> {
  const out: ChunkBatch[] = [];
  for await (const b of signatures(source, options)) out.push(b);
  return out;
}

/** Batches flattened to the shape of k.chunk(), checking that they tile the file in order. */
function flatten(batches: ChunkBatch[]) {
  const chunks: { offset: number; length: number; crc32: number; blake3: string }[] = [];
  let offset = 0;
  for (const b of batches) {
    expect(b.firstIndex).toBe(chunks.length);
    expect(b.offset).toBe(offset);
    expect(b.crcs.length).toBe(b.lengths.length);
    expect(b.hashes.length).toBe(b.lengths.length * 32);
    b.lengths.forEach((length, i) => {
      chunks.push({ offset, length, crc32: b.crcs[i], blake3: Buffer.from(b.hashes.subarray(i * 32, i * 32 + 32)).toString('hex') });
      offset += length;
    });
  }
  return chunks;
}

function sequential(data: Uint8Array, spec: ChunkingSpec & { kind: 'cdc' }) {
  return k.chunk(data, { ...spec, blake3: true }).map((c) => ({ ...c, blake3: Buffer.from(c.blake3!).toString('hex') }));
}

describe('signatures, CDC', () => {
  const kinds: Record<string, (n: number) => Uint8Array> = { random: (n) => randomBytes(n, n + 7), zeros: (n) => new Uint8Array(n), image };

  it.each([
    ['random', DEFAULT, [0, 1, 1000, 2048, 65536, 65537, 300_001, 1_234_567]],
    ['zeros', DEFAULT, [1000, 65536, 65536 * 3 + 1, 700_000]],
    ['image', DEFAULT, [65536, 5 * IMAGE.length + 3]],
    ['random', SMALL, [0, 1, 63, 1024, 50_001]],
    ['image', SMALL, [40_000]],
  ] as const)('should equal the sequential chunks for %s data, %o, on 1-3 workers and any segment size', async (kind, spec, sizes) => {
    for (const size of sizes) {
      const data = kinds[kind](size);
      const want = sequential(data, spec);
      // 100 B: thousands of segments per chunk run; the rest split chunks anywhere, aligned to nothing.
      const segmentSizes = size > 400_000 ? [65_537 * 3, 1 << 20, (2 << 20) + 3] : [100, 4097, 65_536 + 13, 1 << 20];
      for (const pool of pools) {
        for (const segmentSize of segmentSizes) {
          const got = flatten(await collect(bytesSource(data), { chunking: spec, pool, segmentSize }));
          expect(got, `${kind} size ${size}, ${pool.size} workers, segments of ${segmentSize}`).toEqual(want);
        }
      }
    }
  });

  it('should bound reads to maxInFlight segments ahead of the batches taken, and stream before the end', async () => {
    const data = randomBytes(4 << 20, 3);
    let reads = 0;
    const source: SyncSource = {
      size: data.length,
      read: async (o, n) => {
        reads++;
        return data.slice(o, o + n);
      },
    };
    let taken = 0,
      maxAhead = 0,
      readsAtFirst = 0;
    for await (const b of signatures(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 256 << 10, maxInFlight: 3 })) {
      if (!taken) readsAtFirst = reads;
      taken++;
      maxAhead = Math.max(maxAhead, reads - Math.floor((b.offset + b.lengths.reduce((n, l) => n + l, 0)) / (256 << 10)));
      await new Promise((r) => setTimeout(r, 2)); // a slow consumer
    }
    expect(readsAtFirst).toBeLessThanOrEqual(4);
    expect(maxAhead).toBeLessThanOrEqual(4); // 3 in flight + the one a batch can end inside
    expect(taken).toBeGreaterThan(8);
  });

  it('should report every byte once through onBytes', async () => {
    const data = randomBytes(777_777, 5);
    let total = 0;
    await collect(bytesSource(data), { chunking: DEFAULT, pool: pools[1], segmentSize: 100_000, onBytes: (n) => (total += n) });
    expect(total).toBe(data.length);
  });

  it('should work with one segment in flight (read, scan, stitch, hash one at a time)', async () => {
    const data = randomBytes(500_000, 6);
    const got = flatten(await collect(bytesSource(data), { chunking: DEFAULT, pool: pools[2], segmentSize: 30_001, maxInFlight: 1 }));
    expect(got).toEqual(sequential(data, DEFAULT));
  });

  it('should refuse a segment size or maxInFlight out of range, naming the bound', async () => {
    const run = (o: Partial<SignatureOptions>) => collect(bytesSource(new Uint8Array(10)), { chunking: DEFAULT, pool: pools[0], ...o });
    await expect(run({ segmentSize: 0 })).rejects.toThrow('segmentSize 0 is below the minimum 1');
    await expect(run({ segmentSize: 2 ** 30 })).rejects.toThrow('segmentSize 1073741824 is above the maximum 268435456');
    await expect(run({ maxInFlight: 0 })).rejects.toThrow('maxInFlight 0 is below the minimum 1');
    await expect(run({ chunking: { ...DEFAULT, min: 10 } as ChunkingSpec })).rejects.toThrow('min 10 is below the minimum 64');
  });

  it('should accept a source that returns views into a larger buffer', async () => {
    const data = randomBytes(300_000, 9);
    const big = new Uint8Array(data.length + 100);
    big.set(data, 50);
    const source: SyncSource = { size: data.length, read: async (o, n) => big.subarray(50 + o, 50 + Math.min(o + n, data.length)) };
    expect(flatten(await collect(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 50_000 }))).toEqual(sequential(data, DEFAULT));
    expect(big.byteLength).toBe(data.length + 100); // not transferred away
  });
});

describe('signatures, fixed blocks', () => {
  it.each([64, 512, 4096, 1 << 20])('should give blocks of %i bytes with zlib CRCs and BLAKE3s, whatever the segment size', async (block) => {
    for (const size of [0, 1, block - 1, block, block + 1, 3 * block + 17]) {
      const data = randomBytes(size, size + block);
      const want = [];
      for (let o = 0; o < size; o += block) {
        const b = data.subarray(o, o + block);
        want.push({ offset: o, length: b.length, crc32: zlib.crc32(b), blake3: Buffer.from(k.blake3(b)).toString('hex') });
      }
      for (const pool of pools) {
        for (const segmentSize of [1, block * 2 + 5, 8 << 20]) {
          const got = flatten(await collect(bytesSource(data), { chunking: { kind: 'fixed', block }, pool, segmentSize }));
          expect(got).toEqual(want);
        }
      }
    }
  });

  it.each([
    [63, 'below the minimum 64'],
    [(16 << 20) + 1, 'above the maximum 16777216'],
    [1000.5, 'must be an integer'],
  ])('should refuse a block of %d bytes naming the bound', async (block, message) => {
    const run = collect(bytesSource(new Uint8Array(10)), { chunking: { kind: 'fixed', block }, pool: pools[0] });
    await expect(run).rejects.toThrow(DeltaflareError);
    await expect(run).rejects.toThrow(message);
  });
});

/** A source whose reads wait until `release()` (to abort or fail mid-pass). */
function slowSource(data: Uint8Array, delayMs: number): SyncSource {
  return { size: data.length, read: (o, n) => new Promise((r) => setTimeout(() => r(data.slice(o, o + n)), delayMs)) };
}

describe('signatures, ending early', () => {
  const data = randomBytes(3 << 20, 11);

  it('should reject with the signal reason when aborted mid-pass, promptly, and leave the pool usable', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const seen: ChunkBatch[] = [];
    const started = performance.now();
    const run = (async () => {
      for await (const b of signatures(slowSource(data, 50), { chunking: DEFAULT, pool: pools[1], segmentSize: 256 << 10, signal: controller.signal })) {
        seen.push(b);
        if (seen.length === 1) setTimeout(() => controller.abort(reason), 10);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(2000); // 12 segments at 50 ms each would take > 600 ms; this ends after ~2
    expect(flatten(await collect(bytesSource(data), { chunking: DEFAULT, pool: pools[1] }))).toEqual(sequential(data, DEFAULT));
  });

  it('should reject at once when the signal is already aborted', async () => {
    const reason = new Error('too late');
    await expect(collect(bytesSource(data), { chunking: DEFAULT, pool: pools[0], signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('should stop when the caller breaks out, and leave the pool usable', async () => {
    for await (const _ of signatures(bytesSource(data), { chunking: DEFAULT, pool: pools[2], segmentSize: 100_000 })) break;
    expect(flatten(await collect(bytesSource(data), { chunking: DEFAULT, pool: pools[2], segmentSize: 300_000 }))).toEqual(sequential(data, DEFAULT));
  });

  it('should surface a read error', async () => {
    const source: SyncSource = {
      size: data.length,
      read: async (o, n) => {
        if (o > 500_000) throw new Error('EIO');
        return data.slice(o, o + n);
      },
    };
    await expect(collect(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 100_000 })).rejects.toThrow('EIO');
  });

  it('should surface a source that returns fewer bytes than asked', async () => {
    const source: SyncSource = { size: data.length, read: async (o, n) => data.slice(o, o + n - 1) };
    await expect(collect(source, { chunking: DEFAULT, pool: pools[0] })).rejects.toThrow('did it change while being read?');
  });

  it('should surface an error thrown inside a worker', async () => {
    // A worker whose kernels were never loaded throws on every call.
    const pool = new WorkerPool<ThreadApi>([poolWorker(startNodeThread(), 0)]);
    try {
      await expect(collect(bytesSource(data), { chunking: DEFAULT, pool })).rejects.toThrow('worker used before init()');
      await expect(collect(bytesSource(data), { chunking: { kind: 'fixed', block: 4096 }, pool })).rejects.toThrow('worker used before init()');
    } finally {
      pool.terminate();
    }
  });

  it('should reject, not hang, when a worker dies mid-task', async () => {
    const pool = new WorkerPool<ThreadApi>([poolWorker(new Worker('setTimeout(() => process.exit(3), 200)', { eval: true }), 0)]);
    await expect(collect(bytesSource(data), { chunking: DEFAULT, pool })).rejects.toThrow('exited (code 3)');
    // and later passes on the dead pool fail at once
    await expect(collect(bytesSource(data), { chunking: DEFAULT, pool })).rejects.toThrow('exited (code 3)');
  });

  it('should reject, not hang, when the caller terminates the pool mid-pass', async () => {
    const pool = await createNodePool(2);
    const run = collect(slowSource(data, 20), { chunking: DEFAULT, pool, segmentSize: 256 << 10 });
    setTimeout(() => pool.terminate(), 100);
    await expect(run).rejects.toThrow(/terminated|exited/);
  });
});
