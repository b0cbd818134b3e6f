// The signature pass when pool workers read their own segments
// (SyncSource.location: a file path in Node, a Blob in browsers): the same
// chunks as the sequential chunker for any worker count and segment size,
// no segment read on the calling thread unless resynchronising needs one
// (data cut at max from every start, e.g. zeros), and a file that shrinks
// mid-pass fails instead of being misread.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kernels, init } from '../../../core/kernels/index.js';
import { fileSource } from '../../../sdk/node/file-source.js';
import { createNodePool } from '../../../sdk/pool/node-pool.js';
import type { WorkerPool } from '../../../sdk/pool/pool.js';
import type { ThreadApi } from '../../../sdk/pool/thread-api.js';
import type { ChunkingSpec } from '../../../core/protocol/chunking.js';
import { type ChunkBatch, type SignatureOptions, signatures } from '../../../sdk/signatures/pass.js';
import { type SyncSource, blobSource } from '../../../sdk/source.js';
import { randomBytes } from '../../support/bytes.js';

let k: Kernels;
const pools: WorkerPool<ThreadApi>[] = []; // 1, 2 and 3 workers
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-sig-'));
beforeAll(async () => {
  k = await init();
  for (const size of [1, 2, 3]) pools.push(await createNodePool(size));
});
afterAll(() => {
  for (const p of pools) p.terminate();
  rmSync(dir, { recursive: true, force: true });
});

const DEFAULT: ChunkingSpec = { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 };
const SMALL: ChunkingSpec = { kind: 'cdc', min: 64, avg: 256, max: 1024, level: 2 };

/** Random data with zero runs of 400 KB: a segment starting early in one needs more than its head (2 x max) to resynchronise. */
function mixed(n: number, seed: number): Uint8Array {
  const out = randomBytes(n, seed);
  for (let at = 150_000; at < n; at += 700_000) out.fill(0, at, at + 400_000);
  return out;
}

let files = 0;
function file(data: Uint8Array): string {
  const path = join(dir, `f${files++}`);
  writeFileSync(path, data);
  return path;
}

/** `source` with its calling-thread reads (read and readInto) counted. */
function counted<S extends SyncSource & { readInto?: unknown }>(source: S): S & { reads: number } {
  const c = Object.assign(Object.create(source), { reads: 0 });
  c.read = (o: number, n: number) => {
    c.reads++;
    return source.read(o, n);
  };
  if (typeof source.readInto === 'function')
    c.readInto = (o: number, t: Uint8Array) => {
      c.reads++;
      return (source.readInto as (o: number, t: Uint8Array) => Promise<void>)(o, t);
    };
  return c;
}

async function collect(source: SyncSource, options: SignatureOptions): Promise<ChunkBatch[]> {
  const out: ChunkBatch[] = [];
  for await (const b of signatures(source, options)) out.push(b);
  return out;
}

/** Chunks as [length, crc, blake3 hex] triples, checking that batches tile the file in order. */
function flatten(batches: ChunkBatch[]): string[] {
  const out: string[] = [];
  let offset = 0;
  for (const b of batches) {
    expect(b.firstIndex).toBe(out.length);
    expect(b.offset).toBe(offset);
    b.lengths.forEach((length, i) => {
      out.push(`${length} ${b.crcs[i]} ${Buffer.from(b.hashes.subarray(i * 32, i * 32 + 32)).toString('hex')}`);
      offset += length;
    });
  }
  return out;
}

const sequential = (data: Uint8Array, spec: ChunkingSpec & { kind: 'cdc' }) =>
  k.chunk(data, { ...spec, blake3: true }).map((c) => `${c.length} ${c.crc32} ${Buffer.from(c.blake3!).toString('hex')}`);

describe('signatures with workers reading their segments, CDC', () => {
  const kinds: Record<string, (n: number) => Uint8Array> = { random: (n) => randomBytes(n, n + 3), zeros: (n) => new Uint8Array(n), mixed: (n) => mixed(n, n) };

  it.each([
    ['random', DEFAULT, [0, 1, 65_537, 1_234_567, 3_300_000]],
    ['zeros', DEFAULT, [65_536 * 3 + 1, 700_000]],
    ['mixed', DEFAULT, [1_600_000]],
    ['random', SMALL, [1, 1024, 50_001]],
  ] as const)('should equal the sequential chunks for %s data, %o, from a file and a Blob, on 1-3 workers', async (kind, spec, sizes) => {
    for (const size of sizes) {
      const data = kinds[kind](size);
      const want = sequential(data, spec);
      const path = file(data);
      const segmentSizes = size > 400_000 ? [65_537 * 3, 1 << 20, (2 << 20) + 3] : [100, 4097, 65_536 + 13, 1 << 20];
      for (const pool of pools) {
        for (const segmentSize of segmentSizes) {
          const source = await fileSource(path);
          try {
            const got = flatten(await collect(source, { chunking: spec, pool, segmentSize }));
            expect(
              got.length === want.length && got.every((g, i) => g === want[i]),
              `${kind} ${size} B file, ${pool.size} workers, segments of ${segmentSize}`,
            ).toBe(true);
          } finally {
            await source.close?.();
          }
        }
        const got = flatten(await collect(blobSource(new Blob([data as Uint8Array<ArrayBuffer>])), { chunking: spec, pool, segmentSize: segmentSizes[1] }));
        expect(got.length === want.length && got.every((g, i) => g === want[i]), `${kind} ${size} B Blob, ${pool.size} workers`).toBe(true);
      }
    }
  });

  it('should read no segment on the calling thread for random data, and only some for data with zero runs', async () => {
    for (const [data, none] of [
      [randomBytes(3_000_000, 5), true],
      [mixed(3_000_000, 6), false],
    ] as const) {
      const source = counted(await fileSource(file(data)));
      try {
        const got = flatten(await collect(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 256 << 10 }));
        expect(got).toEqual(sequential(data, DEFAULT as ChunkingSpec & { kind: 'cdc' }));
        if (none) expect(source.reads).toBe(0);
        else expect(source.reads).toBeGreaterThan(0);
        expect(source.reads).toBeLessThan(Math.ceil(data.length / (256 << 10)));
      } finally {
        await source.close?.();
      }
    }
  });

  it('should read on the calling thread when told not to use the location', async () => {
    const data = randomBytes(1_000_000, 9);
    const source = counted(await fileSource(file(data)));
    try {
      const got = flatten(await collect(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 300_000, readInWorkers: false }));
      expect(got).toEqual(sequential(data, DEFAULT as ChunkingSpec & { kind: 'cdc' }));
      expect(source.reads).toBe(4);
    } finally {
      await source.close?.();
    }
  });

  it('should fail, naming the file, when it shrinks during the pass', async () => {
    const path = file(randomBytes(2_000_000, 11));
    const source = await fileSource(path);
    truncateSync(path, 1_500_000);
    try {
      await expect(collect(source, { chunking: DEFAULT, pool: pools[1], segmentSize: 500_000 })).rejects.toThrow(`${path} shrank while being read`);
      await expect(collect(source, { chunking: { kind: 'fixed', block: 4096 }, pool: pools[1], segmentSize: 500_000 })).rejects.toThrow(
        'shrank while being read',
      );
    } finally {
      await source.close?.();
    }
  });
});

describe('signatures with workers reading their segments, fixed blocks', () => {
  it.each([512, 4096])('should give blocks of %i bytes with zlib CRCs and BLAKE3s from a file and a Blob', async (block) => {
    for (const size of [0, 1, block + 1, 3 * block + 17, 100_000, 2_500_000]) {
      const data = randomBytes(size, size + block);
      const want: string[] = [];
      for (let o = 0; o < size; o += block) {
        const b = data.subarray(o, o + block);
        want.push(`${b.length} ${zlib.crc32(b)} ${Buffer.from(k.blake3(b)).toString('hex')}`);
      }
      const path = file(data);
      for (const pool of pools) {
        for (const segmentSize of [1, block * 2 + 5, 2 << 20, 8 << 20]) {
          if (segmentSize < 10_000 && size > 200_000) continue;
          const source = counted(await fileSource(path));
          expect(flatten(await collect(source, { chunking: { kind: 'fixed', block }, pool, segmentSize }))).toEqual(want);
          expect(source.reads).toBe(0);
          await source.close?.();
        }
        expect(
          flatten(await collect(blobSource(new Blob([data as Uint8Array<ArrayBuffer>])), { chunking: { kind: 'fixed', block }, pool, segmentSize: 3 * block })),
        ).toEqual(want);
      }
    }
  });
});
