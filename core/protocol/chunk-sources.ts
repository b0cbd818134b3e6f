// Server side of the commit check: where each new chunk's digest comes from.
// A copied chunk takes its old chunk's stored digest, a literal chunk the
// digest the server computed when its part landed, a dup chunk its source
// chunk's. This needs every op on chunk boundaries (new and old, with equal
// chunk lengths): anything else is INVALID_PLAN.
import { DeltaflareError } from '../base/errors.js';
import { checkPlan } from './apply.js';
import { chunkOffsets } from './manifest.js';
import type { LiteralOp, PlanMessage } from './wire.js';

/** Source kinds of a new chunk. */
export const ChunkSource = { literal: 0, copy: 1, dup: 2 } as const;

/** Per new chunk: its kind, and for a copy the old chunk index, for a dup the source new chunk index. */
export interface ChunkSources {
  kind: Uint8Array;
  ref: Uint32Array;
}

const invalid = (message: string): DeltaflareError => new DeltaflareError('INVALID_PLAN', message);

/** The chunk index whose offset is exactly `at`, or INVALID_PLAN naming `what`. */
function chunkAt(offsets: Float64Array, at: number, what: string): number {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  if (offsets[lo] !== at) throw invalid(`${what} at ${at} is not on a chunk boundary`);
  return lo;
}

/**
 * Checks the plan against the new chunk lengths (recorded from the
 * signatures) and the basis manifest's lengths, and says where each new
 * chunk's digest comes from.
 * @example const s = chunkSources(session.lengths, basis.lengths, plan, parts.flatMap((p) => p.ops))
 */
export function chunkSources(newLengths: Uint32Array, oldLengths: Uint32Array, plan: PlanMessage, literals: readonly LiteralOp[]): ChunkSources {
  const newOffsets = chunkOffsets({ lengths: newLengths });
  const oldOffsets = chunkOffsets({ lengths: oldLengths });
  if (newOffsets[newLengths.length] !== plan.size) throw invalid(`the signatures add up to ${newOffsets[newLengths.length]} bytes, the plan to ${plan.size}`);
  checkPlan(plan, literals, oldOffsets[oldLengths.length]);
  const n = newLengths.length;
  const kind = new Uint8Array(n); // literal unless a copy or dup says otherwise
  const ref = new Uint32Array(n);
  const span = (newOffset: number, length: number, what: string): [number, number] => [
    chunkAt(newOffsets, newOffset, what),
    chunkAt(newOffsets, newOffset + length, `end of ${what}`),
  ];
  plan.copies.forEach((c, i) => {
    const [a, b] = span(c.newOffset, c.length, `copy[${i}]`);
    const j = chunkAt(oldOffsets, c.oldOffset, `copy[${i}] source`);
    for (let k = 0; k < b - a; k++) {
      if (oldLengths[j + k] !== newLengths[a + k])
        throw invalid(`copy[${i}]: new chunk ${a + k} has ${newLengths[a + k]} bytes, old chunk ${j + k} has ${oldLengths[j + k]}`);
      kind[a + k] = ChunkSource.copy;
      ref[a + k] = j + k;
    }
  });
  for (const l of literals) span(l.newOffset, l.length, 'literal');
  plan.dups.forEach((d, i) => {
    const [a, b] = span(d.newOffset, d.length, `dup[${i}]`);
    const s = chunkAt(newOffsets, d.srcOffset, `dup[${i}] source`);
    for (let k = 0; k < b - a; k++) {
      if (newLengths[s + k] !== newLengths[a + k])
        throw invalid(`dup[${i}]: chunk ${a + k} has ${newLengths[a + k]} bytes, its source ${s + k} has ${newLengths[s + k]}`);
      kind[a + k] = ChunkSource.dup;
      ref[a + k] = s + k;
    }
  });
  return { kind, ref };
}

/**
 * The new manifest's digests (32 bytes per chunk), filled in place:
 * `digests` holds the literal chunks' digests at their indices (the server
 * hashes them as parts land) and gets the stored digests of copies and the
 * source's of dups. BLAKE3 of the result is the root to compare. In place:
 * a second 32 B/chunk array was 8 MB more at the commit of a 1 GiB file in
 * 4 KiB chunks, the server's peak.
 * @example k.blake3(fillChunkDigests(s, basis.hashes, landed)) // equals the client's root
 */
export function fillChunkDigests(sources: ChunkSources, oldHashes: Uint8Array, digests: Uint8Array): Uint8Array {
  const n = sources.kind.length;
  for (let i = 0; i < n; i++) {
    const j = sources.ref[i];
    if (sources.kind[i] === ChunkSource.copy) digests.set(oldHashes.subarray(j * 32, j * 32 + 32), i * 32);
  }
  // Dup sources are literal chunks, filled before.
  for (let i = 0; i < n; i++) if (sources.kind[i] === ChunkSource.dup) digests.copyWithin(i * 32, sources.ref[i] * 32, sources.ref[i] * 32 + 32);
  return digests;
}
