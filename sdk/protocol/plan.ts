// The planner: from the new file's chunks and the confirmed matches to the
// ops the server applies. Every op starts and ends on new chunk boundaries,
// so the server can give each new chunk a digest for the manifest: a copied
// chunk takes the stored digest of its old chunk, a literal chunk is hashed
// as its part lands, a dup takes its source chunk's digest.
//
//   copy(oldOffset, length, newOffset)   basis bytes; merged while contiguous in old and new
//   literal(newOffset, length)           bytes in a part; merged while contiguous
//   dup(srcOffset, length, newOffset)    a repeat of earlier literal bytes of the new file,
//                                        applied at commit after all parts have landed
import { DeltaflareError } from '../errors.js';
import { chunkOffsets } from './manifest.js';
import type { NewChunks } from './match.js';
import { orderInPlace } from './in-place.js';
import { WIRE_LIMITS } from './messages.js';
import type { CopyOp, DupOp, LiteralOp, PlanMessage } from './wire.js';

/** A repeat shorter than this stays literal: a dup costs 24 plan bytes. */
export const MIN_DUP_LENGTH = 64;

export interface PlanOptions {
  /** Literal bytes per part (the session's partSize); at least the longest literal chunk. */
  partSize: number;
  /** Literal ops per part (default: WIRE_LIMITS.maxPartOps). */
  maxPartOps?: number;
  /** Send a repeated new chunk once and dup it (default true). */
  dedup?: boolean;
  /** Order copies for an in-place rebuild; cycles turn copies into literals. */
  inPlace?: boolean;
}

/** One part: which literal ranges it carries. */
export interface PartPlan {
  part: number;
  ops: LiteralOp[];
  literalBytes: number;
}

/** A whole plan: the plan message (copies, dups) and the parts. */
export interface Plan extends PlanMessage {
  parts: PartPlan[];
  /** Copies that in-place ordering turned into literals. */
  converted: number;
}

/**
 * Plans a sync. `oldOffsets[i]` is the confirmed old offset of new chunk i,
 * or -1 (see confirmMatches).
 * @example const p = plan(chunks, oldOffsets, { partSize: session.partSize }); encodePlan(p)
 */
export function plan(chunks: NewChunks, oldOffsets: Float64Array, options: PlanOptions): Plan {
  const { lengths, hashes } = chunks;
  const n = lengths.length;
  if (oldOffsets.length !== n) throw new DeltaflareError('INVALID_ARGUMENT', `plan: ${oldOffsets.length} oldOffsets for ${n} chunks`);
  const offsets = chunkOffsets(chunks);
  const size = offsets[n];
  const dedup = options.dedup ?? true;

  const copies: CopyOp[] = [];
  const dups: DupOp[] = [];
  let literals: LiteralOp[] = [];
  const firstSeen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const len = lengths[i];
    const at = offsets[i];
    if (oldOffsets[i] >= 0) {
      const old = oldOffsets[i];
      const last = copies[copies.length - 1];
      if (last && last.newOffset + last.length === at && last.oldOffset + last.length === old) last.length += len;
      else copies.push({ oldOffset: old, newOffset: at, length: len });
      continue;
    }
    if (dedup && len >= MIN_DUP_LENGTH) {
      const key = digestKey(hashes, i);
      const src = firstSeen.get(key);
      if (src !== undefined) {
        const from = offsets[src];
        const last = dups[dups.length - 1];
        if (last && last.newOffset + last.length === at && last.srcOffset + last.length === from) last.length += len;
        else dups.push({ srcOffset: from, newOffset: at, length: len });
        continue;
      }
      firstSeen.set(key, i);
    }
    pushLiteral(literals, at, len);
  }

  let ordered = copies;
  let converted = 0;
  if (options.inPlace) {
    const order = orderInPlace(copies);
    ordered = order.copies;
    converted = order.converted.length;
    if (converted > 0) {
      const all = [...literals, ...order.converted.map((c) => ({ newOffset: c.newOffset, length: c.length }))];
      all.sort((a, b) => a.newOffset - b.newOffset);
      literals = [];
      for (const op of all) pushLiteral(literals, op.newOffset, op.length);
    }
  }
  const parts = toParts(literals, offsets, options);
  return { size, inPlace: options.inPlace ?? false, copies: ordered, dups, parts, converted };
}

function pushLiteral(ops: LiteralOp[], at: number, len: number): void {
  const last = ops[ops.length - 1];
  if (last && last.newOffset + last.length === at) last.length += len;
  else ops.push({ newOffset: at, length: len });
}

/** The 32-byte digest as a map key (one UTF-16 unit per byte). */
function digestKey(hashes: Uint8Array, i: number): string {
  return String.fromCharCode(...hashes.subarray(i * 32, i * 32 + 32));
}

/** Cuts literal ops into parts of at most partSize bytes and maxPartOps ops, at chunk boundaries. */
function toParts(literals: LiteralOp[], offsets: Float64Array, options: PlanOptions): PartPlan[] {
  const { partSize } = options;
  const maxOps = options.maxPartOps ?? WIRE_LIMITS.maxPartOps;
  if (!Number.isInteger(partSize) || partSize < 1 || partSize > WIRE_LIMITS.maxPartBytes) {
    throw new DeltaflareError('INVALID_ARGUMENT', `partSize ${partSize} is outside 1..${WIRE_LIMITS.maxPartBytes}`);
  }
  const parts: PartPlan[] = [];
  let cur: PartPlan = { part: 0, ops: [], literalBytes: 0 };
  const close = (): void => {
    if (cur.ops.length === 0) return;
    parts.push(cur);
    cur = { part: parts.length, ops: [], literalBytes: 0 };
  };
  // Chunk index of an offset: literal ops start on chunk boundaries.
  let c = 0;
  for (const op of literals) {
    while (offsets[c] < op.newOffset) c++;
    let at = op.newOffset;
    const end = op.newOffset + op.length;
    while (at < end) {
      if (cur.ops.length === maxOps) close();
      // Take whole chunks while they fit in what is left of the part.
      const room = partSize - cur.literalBytes;
      let stop = c;
      while (offsets[stop] < end && offsets[stop + 1] - at <= room) stop++;
      if (stop === c) {
        if (cur.literalBytes === 0) {
          throw new DeltaflareError('INVALID_ARGUMENT', `a literal chunk of ${offsets[c + 1] - offsets[c]} bytes is longer than partSize ${partSize}`);
        }
        close();
        continue;
      }
      const len = offsets[stop] - at;
      cur.ops.push({ newOffset: at, length: len });
      cur.literalBytes += len;
      at = offsets[stop];
      c = stop;
      if (cur.literalBytes === partSize) close();
    }
  }
  close();
  return parts;
}

/** The literal bytes of a part, cut from the new file in op order. @example encodePart({ ...p, deflated: false, payload: partPayload(file, p) }) */
export function partPayload(newFile: Uint8Array, part: PartPlan): Uint8Array {
  const out = new Uint8Array(part.literalBytes);
  let at = 0;
  for (const op of part.ops) {
    out.set(newFile.subarray(op.newOffset, op.newOffset + op.length), at);
    at += op.length;
  }
  return out;
}
