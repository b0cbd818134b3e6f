// A reference applier, all in memory: old bytes + plan + parts -> new bytes.
// Tests check plans with it; a server can follow its order of work:
// copies (in plan order), then literals, then dups.
import { DeltaflareError } from '../base/errors.js';
import type { LiteralOp, PlanMessage } from './wire.js';

/** A landed part: its literal ops and their bytes (inflated), concatenated in op order. */
export interface LandedPart {
  ops: LiteralOp[];
  payload: Uint8Array;
}

const invalid = (message: string): DeltaflareError => new DeltaflareError('INVALID_PLAN', message);

/**
 * Checks that copies, literals and dups tile [0, size) exactly, that copies
 * read inside the basis, and that every dup reads literal bytes before its
 * destination. Throws INVALID_PLAN naming the first gap or overlap.
 * @example checkPlan(plan, parts.flatMap((p) => p.ops), basis.size)
 */
export function checkPlan(plan: PlanMessage, literals: readonly LiteralOp[], oldSize: number): void {
  const spans: Array<[number, number, string]> = [];
  plan.copies.forEach((c, i) => {
    if (c.oldOffset + c.length > oldSize) throw invalid(`copy[${i}] reads ${c.oldOffset}..${c.oldOffset + c.length}, beyond the basis size ${oldSize}`);
    spans.push([c.newOffset, c.length, `copy[${i}]`]);
  });
  for (const [i, l] of literals.entries()) spans.push([l.newOffset, l.length, `literal[${i}]`]);
  for (const [i, d] of plan.dups.entries()) spans.push([d.newOffset, d.length, `dup[${i}]`]);
  spans.sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [start, length, name] of spans) {
    if (start !== at)
      throw invalid(start > at ? `bytes ${at}..${start} are covered by no op` : `${name} at ${start} overlaps the op before (which ends at ${at})`);
    at = start + length;
  }
  if (at !== plan.size) throw invalid(`ops cover ${at} bytes, the new file has ${plan.size}`);
  // Dup sources lie in literal bytes: merge literal ranges, then look each source up.
  const lit = [...literals].sort((a, b) => a.newOffset - b.newOffset);
  const runs: Array<[number, number]> = [];
  for (const l of lit) {
    const last = runs[runs.length - 1];
    if (last && last[1] === l.newOffset) last[1] += l.length;
    else runs.push([l.newOffset, l.newOffset + l.length]);
  }
  plan.dups.forEach((d, i) => {
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (runs[mid][1] <= d.srcOffset) lo = mid + 1;
      else hi = mid;
    }
    const r = runs[lo];
    if (!r || r[0] > d.srcOffset || r[1] < d.srcOffset + d.length)
      throw invalid(`dup[${i}] source ${d.srcOffset}..${d.srcOffset + d.length} is not all literal bytes`);
    if (d.srcOffset + d.length > d.newOffset) throw invalid(`dup[${i}] source ends after its destination ${d.newOffset} begins`);
  });
}

function writeLiterals(out: Uint8Array, parts: readonly LandedPart[]): void {
  for (const part of parts) {
    let at = 0;
    for (const op of part.ops) {
      if (at + op.length > part.payload.length) throw invalid(`a part's payload of ${part.payload.length} bytes is shorter than its ops`);
      out.set(part.payload.subarray(at, at + op.length), op.newOffset);
      at += op.length;
    }
  }
}

/**
 * Builds the new file in a fresh buffer.
 * @example const bytes = applyPlan(old, plan, [{ ops: p.ops, payload }])
 */
export function applyPlan(old: Uint8Array, plan: PlanMessage, parts: readonly LandedPart[]): Uint8Array {
  checkPlan(
    plan,
    parts.flatMap((p) => p.ops),
    old.length,
  );
  const out = new Uint8Array(plan.size);
  for (const c of plan.copies) out.set(old.subarray(c.oldOffset, c.oldOffset + c.length), c.newOffset);
  writeLiterals(out, parts);
  for (const d of plan.dups) out.copyWithin(d.newOffset, d.srcOffset, d.srcOffset + d.length);
  return out;
}

/**
 * Rebuilds in place: `buffer` holds the basis in its first `oldSize` bytes and
 * is at least max(oldSize, plan.size) long. Copies run in plan order with
 * memmove semantics (copyWithin), then literals, then dups; the result is the
 * first plan.size bytes. With copies in a bad order the result is wrong, not
 * an error: that is what the in-place tests look for.
 * @example applyInPlace(buf, old.length, plan, parts)
 */
export function applyInPlace(buffer: Uint8Array, oldSize: number, plan: PlanMessage, parts: readonly LandedPart[]): Uint8Array {
  if (buffer.length < Math.max(oldSize, plan.size)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `in-place buffer of ${buffer.length} bytes, needs max(${oldSize}, ${plan.size})`);
  }
  checkPlan(
    plan,
    parts.flatMap((p) => p.ops),
    oldSize,
  );
  for (const c of plan.copies) buffer.copyWithin(c.newOffset, c.oldOffset, c.oldOffset + c.length);
  writeLiterals(buffer, parts);
  for (const d of plan.dups) buffer.copyWithin(d.newOffset, d.srcOffset, d.srcOffset + d.length);
  return buffer.subarray(0, plan.size);
}
