// Shared test helpers: chunkers (fixed blocks and the FastCDC-2020 wasm
// kernel), digests, seeded random bytes, and a whole sync run in memory
// through every codec: signatures -> matches -> confirm -> plan -> parts.
import { crc32 } from 'node:zlib';
import { hash as blake3 } from 'blake3-jit';
import { init, type ChunkOptions } from '../../../core/kernels/index.js';
import { WeakIndex, confirmMatches, matchBatch, type NewChunks } from '../../../core/protocol/match.js';
import { plan, partPayload, type Plan, type PlanOptions } from '../../../sdk/push/plan.js';
import {
  decodeMatches,
  decodePart,
  decodePlan,
  decodeSignatures,
  encodeMatches,
  encodePart,
  encodePlan,
  encodeSignatures,
  type PartMessage,
  type PlanMessage,
} from '../../../core/protocol/wire.js';

export type Chunker = (bytes: Uint8Array) => number[];

/** Fixed blocks of `block` bytes, the last one shorter. */
export const fixedChunker =
  (block: number): Chunker =>
  (bytes) => {
    const out: number[] = [];
    for (let at = 0; at < bytes.length; at += block) out.push(Math.min(block, bytes.length - at));
    return out;
  };

const kernels = await init();

/** FastCDC-2020 cut points from the wasm kernel (small sizes so test files have many chunks). */
export const cdcChunker =
  (p: ChunkOptions = { min: 64, avg: 256, max: 1024, level: 1 }): Chunker =>
  (bytes) =>
    kernels.chunk(bytes, p).map((c) => c.length);

/** Lengths, CRCs and BLAKE3 digests of the chunks of `bytes`. */
export function describe(bytes: Uint8Array, chunker: Chunker): NewChunks & { crcs: Uint32Array } {
  const lengths = Uint32Array.from(chunker(bytes));
  const crcs = new Uint32Array(lengths.length);
  const hashes = new Uint8Array(lengths.length * 32);
  let at = 0;
  lengths.forEach((len, i) => {
    const piece = bytes.subarray(at, at + len);
    crcs[i] = crc32(piece) >>> 0;
    hashes.set(blake3(piece), i * 32);
    at += len;
  });
  return { lengths, crcs, hashes };
}

export { concat, randomBytes } from '../../support/bytes.js';

export interface SyncRun {
  plan: Plan;
  /** The plan and parts as the server decodes them. */
  message: PlanMessage;
  parts: PartMessage[];
  oldOffsets: Float64Array;
  newChunks: NewChunks & { crcs: Uint32Array };
  oldChunks: NewChunks & { crcs: Uint32Array };
}

/** One sync in memory, every message through its encoder and decoder. */
export function syncRun(old: Uint8Array, next: Uint8Array, chunker: Chunker, options: PlanOptions & { batch?: number; strongBytes?: number }): SyncRun {
  const oldChunks = describe(old, chunker);
  const newChunks = describe(next, chunker);
  const index = new WeakIndex(oldChunks);
  const n = newChunks.lengths.length;
  const oldOffsets = new Float64Array(n).fill(-1);
  const batch = options.batch ?? 1000;
  for (let first = 0; first < n; first += batch) {
    const end = Math.min(n, first + batch);
    const body = encodeSignatures({ firstIndex: first, crcs: newChunks.crcs.subarray(first, end), lengths: newChunks.lengths.subarray(first, end) });
    const matches = matchBatch(index, decodeSignatures(body), options.strongBytes ?? 8);
    confirmMatches(decodeMatches(encodeMatches(matches)), newChunks, oldOffsets, old.length);
  }
  const p = plan(newChunks, oldOffsets, options);
  const message = decodePlan(encodePlan(p));
  const parts = p.parts.map((pp) => decodePart(encodePart({ ...pp, deflated: false, payload: partPayload(next, pp) }), { maxLiteralBytes: options.partSize }));
  return { plan: p, message, parts, oldOffsets, newChunks, oldChunks };
}

/** Byte equality that names the first difference (vitest's toEqual walks a Uint8Array element by element: ~1 s per 80 KB). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (actual.length === expected.length && Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)) return;
  let i = 0;
  while (i < Math.min(actual.length, expected.length) && actual[i] === expected[i]) i++;
  throw new Error(`bytes differ: lengths ${actual.length} and ${expected.length}, first difference at ${i}`);
}
