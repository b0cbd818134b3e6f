import fc from 'fast-check';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { init } from '../../../core/kernels/index.js';
import { chunkingFor, DEFAULT_CHUNKING, expectedChunks } from '../../../core/protocol/chunking.js';
import { applyInPlace, applyPlan } from '../../../core/protocol/apply.js';
import { chunkOffsets } from '../../../core/protocol/manifest.js';
import { WeakIndex, confirmMatches, matchBatch } from '../../../core/protocol/match.js';
import { partPayload, plan, Planner, type PartPlan, type PlanOptions } from '../../../sdk/push/plan.js';
import { decodePart, encodePart } from '../../../core/protocol/wire.js';
import {
  cdcChunker,
  concat,
  describe as describeChunks,
  expectSameBytes,
  fixedChunker,
  randomBytes,
  syncRun,
  type Chunker,
  type SyncRun,
} from '../../core/protocol/helpers.js';

/** One edit of a script; positions and lengths are fractions of the current file so every edit applies. */
type Edit = { kind: 'insert' | 'delete' | 'overwrite' | 'move' | 'repeat' | 'zeros' | 'truncate' | 'extend'; at: number; len: number; seed: number };

const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'overwrite', 'move', 'repeat', 'zeros', 'truncate', 'extend'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  len: fc.integer({ min: 1, max: 3000 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

function applyEdit(f: Uint8Array, e: Edit): Uint8Array {
  const at = Math.floor(e.at * f.length);
  const len = Math.min(e.len, f.length - at);
  const fresh = randomBytes(e.len, e.seed);
  switch (e.kind) {
    case 'insert':
      return concat(f.subarray(0, at), fresh, f.subarray(at));
    case 'delete':
      return concat(f.subarray(0, at), f.subarray(at + len));
    case 'overwrite':
      return concat(f.subarray(0, at), fresh.subarray(0, len), f.subarray(at + len));
    case 'zeros':
      return concat(f.subarray(0, at), new Uint8Array(e.len), f.subarray(at));
    case 'truncate':
      return f.subarray(0, at);
    case 'extend':
      return concat(f, fresh);
    case 'move': {
      // Cut [at, at + len) and paste it at the (seeded) other place.
      const rest = concat(f.subarray(0, at), f.subarray(at + len));
      const to = e.seed % (rest.length + 1);
      return concat(rest.subarray(0, to), f.subarray(at, at + len), rest.subarray(to));
    }
    case 'repeat': {
      // Paste a copy of [at, at + len) twice elsewhere: repeated new chunks.
      const piece = f.slice(at, at + len);
      const to = e.seed % (f.length + 1);
      return concat(f.subarray(0, to), piece, piece, f.subarray(to));
    }
  }
}

/** An old file with inner repeats (so several old chunks can share a digest) and a script of edits. */
const scenario = fc.record({
  size: fc.integer({ min: 0, max: 40000 }),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  repeatOld: fc.boolean(),
  edits: fc.array(edit, { maxLength: 6 }),
});

function files(s: { size: number; seed: number; repeatOld: boolean; edits: Edit[] }): [Uint8Array, Uint8Array] {
  let old = randomBytes(s.size, s.seed);
  if (s.repeatOld) old = concat(old, old.subarray(0, s.size >> 1), new Uint8Array(5000));
  let next = old;
  for (const e of s.edits) next = applyEdit(next, e);
  return [old, next];
}

const chunkers: Array<[string, Chunker]> = [
  ['fixed 1 KiB blocks', fixedChunker(1024)],
  ['fixed 100-byte blocks', fixedChunker(100)],
  ['FastCDC-2020 kernel (64/256/1024)', cdcChunker()],
];

/** Invariants every plan keeps, checked against the chunk lists. */
function checkInvariants(run: SyncRun, partSize: number, maxPartOps: number, old: Uint8Array): void {
  const newCuts = new Set(chunkOffsets(run.newChunks));
  const oldCuts = new Set(chunkOffsets(run.oldChunks));
  for (const c of run.plan.copies) {
    expect(newCuts.has(c.newOffset) && newCuts.has(c.newOffset + c.length)).toBe(true);
    expect(oldCuts.has(c.oldOffset) && oldCuts.has(c.oldOffset + c.length)).toBe(true);
    expect(old.length).toBeGreaterThanOrEqual(c.oldOffset + c.length);
  }
  for (const d of run.plan.dups) expect(newCuts.has(d.newOffset) && newCuts.has(d.srcOffset) && newCuts.has(d.newOffset + d.length)).toBe(true);
  for (const p of run.plan.parts) {
    expect(p.literalBytes).toBeLessThanOrEqual(partSize);
    expect(p.ops.length).toBeLessThanOrEqual(maxPartOps);
    for (const op of p.ops) expect(newCuts.has(op.newOffset) && newCuts.has(op.newOffset + op.length)).toBe(true);
  }
  // Every new chunk whose digest the old file has is copied, not sent.
  const oldDigests = new Set<string>();
  for (let j = 0; j < run.oldChunks.lengths.length; j++) oldDigests.add(Buffer.from(run.oldChunks.hashes.subarray(j * 32, j * 32 + 32)).toString('hex'));
  run.newChunks.lengths.forEach((_, i) => {
    const known = oldDigests.has(Buffer.from(run.newChunks.hashes.subarray(i * 32, i * 32 + 32)).toString('hex'));
    expect(run.oldOffsets[i] >= 0).toBe(known);
  });
}

describe('plan', () => {
  it.each(chunkers)('should rebuild the new file from old bytes, plan and parts for random edit scripts (%s)', (_, chunker) => {
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1024, max: 20000 }), fc.integer({ min: 1, max: 8 }), fc.boolean(), (s, partSize, maxPartOps, dedup) => {
        const [old, next] = files(s);
        const run = syncRun(old, next, chunker, { partSize, maxPartOps, dedup, batch: 7 });
        expectSameBytes(applyPlan(old, run.message, run.parts), next);
        checkInvariants(run, partSize, maxPartOps, old);
        const literal = run.plan.parts.reduce((sum, p) => sum + p.literalBytes, 0);
        const copied = run.plan.copies.reduce((sum, c) => sum + c.length, 0);
        const dupped = run.plan.dups.reduce((sum, d) => sum + d.length, 0);
        expect(literal + copied + dupped).toBe(next.length);
        if (!dedup) expect(run.plan.dups).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });

  it.each(chunkers)('should rebuild in place inside one buffer for random edit scripts (%s)', (_, chunker) => {
    fc.assert(
      fc.property(scenario, (s) => {
        const [old, next] = files(s);
        const run = syncRun(old, next, chunker, { partSize: 4096, inPlace: true });
        const buffer = new Uint8Array(Math.max(old.length, next.length));
        buffer.set(old);
        expectSameBytes(applyInPlace(buffer, old.length, run.message, run.parts), next);
      }),
      { numRuns: 60 },
    );
  });

  it('should send nothing but one copy for an identical file', () => {
    const old = randomBytes(100_000, 7);
    for (const [, chunker] of chunkers) {
      const run = syncRun(old, old, chunker, { partSize: 8192 });
      expect(run.plan.copies).toEqual([{ oldOffset: 0, newOffset: 0, length: old.length }]);
      expect(run.plan.parts).toEqual([]);
      expect(run.plan.dups).toEqual([]);
    }
  });

  it('should send an empty new file as no ops at all', () => {
    const run = syncRun(randomBytes(5000, 3), new Uint8Array(0), cdcChunker(), { partSize: 8192 });
    expect(run.plan).toMatchObject({ size: 0, copies: [], dups: [], parts: [] });
    expectSameBytes(applyPlan(randomBytes(5000, 3), run.message, run.parts), new Uint8Array(0));
  });

  it('should send a block repeated inside the new file once and dup the rest', () => {
    const block = randomBytes(1000, 11);
    const next = concat(randomBytes(3000, 12), block, block, block, block);
    const run = syncRun(new Uint8Array(0), next, fixedChunker(1000), { partSize: 100_000 });
    expect(run.plan.parts.reduce((s, p) => s + p.literalBytes, 0)).toBe(4000);
    // Blocks 4, 5 and 6 each repeat block 3: their sources are not consecutive, so they stay three dups.
    expect(run.plan.dups).toEqual([3, 4, 5].map((k) => ({ srcOffset: 3000, newOffset: (k + 1) * 1000, length: 1000 })));
    expectSameBytes(applyPlan(new Uint8Array(0), run.message, run.parts), next);
  });

  it('should dup only chunks whose whole digest repeats, not those that share its first bytes', () => {
    const hashes = new Uint8Array(3 * 32);
    hashes.fill(7, 0, 32); // chunk 0
    hashes.fill(7, 32, 64); // chunk 1: the same digest
    hashes.fill(7, 64, 96);
    hashes[95] = 8; // chunk 2: the same first 31 bytes, another digest
    const p = plan({ lengths: Uint32Array.of(100, 100, 100), hashes }, Float64Array.of(-1, -1, -1), { partSize: 1000 });
    expect(p.dups).toEqual([{ srcOffset: 0, newOffset: 100, length: 100 }]);
    expect(p.parts.flatMap((part) => part.ops)).toEqual([
      { newOffset: 0, length: 100 },
      { newOffset: 200, length: 100 },
    ]);
  });

  it('should merge dups of a repeated run of blocks into one op', () => {
    const piece = randomBytes(3000, 21);
    const next = concat(piece, randomBytes(500, 22), piece);
    const run = syncRun(new Uint8Array(0), next, fixedChunker(500), { partSize: 100_000 });
    // Blocks 0-5 hold piece; 6 is the gap; blocks 7-12 would repeat piece but are shifted by 500: aligned, so one dup.
    expect(run.plan.dups).toEqual([{ srcOffset: 0, newOffset: 3500, length: 3000 }]);
  });

  it('should merge copies contiguous in old and new and keep others apart', () => {
    const old = randomBytes(8000, 5);
    const next = concat(old.subarray(4000, 8000), old.subarray(0, 4000));
    const run = syncRun(old, next, fixedChunker(1000), { partSize: 8192 });
    expect(run.plan.copies).toEqual([
      { oldOffset: 4000, newOffset: 0, length: 4000 },
      { oldOffset: 0, newOffset: 4000, length: 4000 },
    ]);
  });

  it('should split a long literal run at chunk boundaries into parts of at most partSize', () => {
    const next = randomBytes(10_000, 9);
    const run = syncRun(new Uint8Array(0), next, fixedChunker(1000), { partSize: 2500 });
    expect(run.plan.parts.map((p) => p.literalBytes)).toEqual([2000, 2000, 2000, 2000, 2000]);
    expect(run.plan.parts.map((p) => p.part)).toEqual([0, 1, 2, 3, 4]);
  });

  it.each(chunkers)("should give each part the CRC32 of its payload, combined from its chunks' CRCs, streaming and in place (%s)", async (_, chunker) => {
    const k = await init();
    const crc32Combine = (a: number, b: number, n: number) => k.crc32Combine(a, b, n);
    fc.assert(
      fc.property(scenario, fc.integer({ min: 1024, max: 20000 }), fc.boolean(), (s, partSize, inPlace) => {
        const [old, next] = files(s);
        const run = syncRun(old, next, chunker, { partSize, inPlace, crc32Combine });
        for (const p of run.plan.parts) expect(p.crc).toBe(zlib.crc32(partPayload(next, p))); // zlib: a reference we did not write
      }),
      { numRuns: 40 },
    );
  });

  it('should refuse a partSize smaller than a literal chunk, naming both', () => {
    const chunks = { lengths: Uint32Array.of(5000), hashes: new Uint8Array(32) };
    expect(() => plan(chunks, Float64Array.of(-1), { partSize: 4096 })).toThrow(/literal chunk of 5000 bytes is longer than partSize 4096/);
  });
});

/**
 * A sync as sync() runs it: signature batches of the given sizes matched and
 * confirmed in index order, each fed to a Planner at once. Records the parts
 * each add() closed, with how many bytes had been planned when it did.
 */
function streamRun(old: Uint8Array, next: Uint8Array, chunker: Chunker, options: PlanOptions, batches: number[]) {
  const oldChunks = describeChunks(old, chunker);
  const newChunks = describeChunks(next, chunker);
  const index = new WeakIndex(oldChunks);
  const n = newChunks.lengths.length;
  const oldOffsets = new Float64Array(n).fill(-1);
  const planner = new Planner(options);
  const early: Array<{ part: PartPlan; planned: number }> = [];
  for (let first = 0, b = 0; first < n; b++) {
    const end = Math.min(n, first + batches[b % batches.length]);
    const batch = { firstIndex: first, crcs: newChunks.crcs.subarray(first, end), lengths: newChunks.lengths.subarray(first, end) };
    confirmMatches(matchBatch(index, batch, 8), newChunks, oldOffsets, old.length);
    for (const part of planner.add(newChunks, oldOffsets, end)) early.push({ part, planned: planner.size });
    first = end;
  }
  return { planner, early, whole: planner.finish(), oldOffsets, newChunks };
}

describe('Planner (chunks added as matches are confirmed)', () => {
  const batches = fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 });

  it.each(chunkers)("should close parts early that are the whole plan's first parts, and rebuild the new file from plan + parts (%s)", (_, chunker) => {
    fc.assert(
      fc.property(
        scenario,
        fc.integer({ min: 1024, max: 20000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        batches,
        (s, partSize, maxPartOps, dedup, sizes) => {
          const [old, next] = files(s);
          const options = { partSize, maxPartOps, dedup };
          const { early, whole, oldOffsets, newChunks } = streamRun(old, next, chunker, options, sizes);
          // The same plan as planning the whole file at once (what a resumed push does).
          expect(whole).toEqual(plan(newChunks, oldOffsets, options));
          // Early parts are parts 0..e-1 of it, each closed only over chunks already planned.
          early.forEach(({ part, planned }, i) => {
            expect(part.part).toBe(i);
            expect(whole.parts[i]).toBe(part);
            const last = part.ops[part.ops.length - 1];
            expect(last.newOffset + last.length).toBeLessThanOrEqual(planned);
            expect(part.literalBytes).toBeLessThanOrEqual(partSize);
            expect(part.ops.length).toBeLessThanOrEqual(maxPartOps);
          });
          // Early parts (as sent) and the rest, through the wire codecs, rebuild the new file.
          const parts = whole.parts.map((pp) =>
            decodePart(encodePart({ ...pp, deflated: false, payload: partPayload(next, pp) }), { maxLiteralBytes: partSize }),
          );
          expectSameBytes(applyPlan(old, whole, parts), next);
          const sent = whole.parts.reduce((sum, p) => sum + p.literalBytes, 0);
          expect(sent + whole.copies.reduce((sum, c) => sum + c.length, 0) + whole.dups.reduce((sum, d) => sum + d.length, 0)).toBe(next.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('should close a part as soon as it is full, before the rest of the file is planned', () => {
    // 20 KB of new bytes, then the old file: with 4000-byte parts, parts 0..4 are full within the first batch of 25 blocks.
    const old = randomBytes(50_000, 31);
    const next = concat(randomBytes(20_000, 32), old);
    const { early, whole } = streamRun(old, next, fixedChunker(1000), { partSize: 4000 }, [25]);
    expect(early.map((e) => [e.part.part, e.planned])).toEqual([
      [0, 25_000],
      [1, 25_000],
      [2, 25_000],
      [3, 25_000],
      [4, 25_000],
    ]);
    expect(whole.parts).toHaveLength(5);
    expect(whole.copies).toEqual([{ oldOffset: 0, newOffset: 20_000, length: 50_000 }]);
  });

  it('should close a part of maxPartOps ops when a copy follows, and keep one open while the next chunk may extend it', () => {
    // Blocks: new, old, new, old, new, ... (10 of each), 1000 bytes each; 3 ops per part.
    const old = randomBytes(10_000, 41);
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) pieces.push(randomBytes(1000, 100 + i), old.subarray(i * 1000, i * 1000 + 1000));
    const next = concat(...pieces);
    // One chunk per batch: the part closes on the copy after its third literal op.
    const { early, whole } = streamRun(old, next, fixedChunker(1000), { partSize: 100_000, maxPartOps: 3 }, [1]);
    expect(early.map((e) => [e.part.part, e.part.ops.length, e.planned])).toEqual([
      [0, 3, 6000],
      [1, 3, 12_000],
      [2, 3, 18_000],
    ]);
    expect(whole.parts.map((p) => p.ops.length)).toEqual([3, 3, 3, 1]);
  });

  it('should close no part before finish() in place (ordering may turn copies into literals)', () => {
    const old = randomBytes(40_000, 51);
    const next = concat(randomBytes(20_000, 52), old.subarray(20_000), old.subarray(0, 20_000));
    const { early, whole } = streamRun(old, next, fixedChunker(1000), { partSize: 4000, inPlace: true }, [5]);
    expect(early).toEqual([]);
    expect(whole.parts.length).toBeGreaterThan(0);
    const buffer = new Uint8Array(Math.max(old.length, next.length));
    buffer.set(old);
    const parts = whole.parts.map((pp) => decodePart(encodePart({ ...pp, deflated: false, payload: partPayload(next, pp) }), { maxLiteralBytes: 4000 }));
    expectSameBytes(applyInPlace(buffer, old.length, whole, parts), next);
  });

  it('should refuse chunks added after finish() and chunks beyond those given', () => {
    const chunks = { lengths: Uint32Array.of(100, 100), hashes: new Uint8Array(64) };
    const p = new Planner({ partSize: 1000 });
    expect(() => p.add(chunks, Float64Array.of(-1, -1), 3)).toThrow(/chunk 3 is beyond the 2 chunks given/);
    p.add(chunks, Float64Array.of(-1, -1), 2);
    p.finish();
    expect(() => p.add(chunks, Float64Array.of(-1, -1), 2)).toThrow(/after finish/);
  });
});

describe('chunkingFor (the default chunking for a file size)', () => {
  it('should keep the defaults while the file fits maxManifestChunks, and double the chunk sizes beyond', () => {
    expect(chunkingFor(8 * 2 ** 30, 2 ** 20)).toEqual(DEFAULT_CHUNKING);
    expect(chunkingFor(8 * 2 ** 30 + 1, 2 ** 20)).toEqual({ kind: 'cdc', min: 4096, avg: 16384, max: 131072, level: 1 });
    const big = chunkingFor(64 * 2 ** 30, 2 ** 20) as { avg: number; max: number };
    expect(big.avg).toBe(65536);
    expect(expectedChunks(64 * 2 ** 30, big as never)).toBeLessThanOrEqual(2 ** 20);
    // Never beyond a 4 MiB max chunk (the Workers part size), however large the file.
    expect((chunkingFor(2 ** 50, 2 ** 20) as { max: number }).max).toBe(4 << 20);
  });
});
