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
//
// The planner takes chunks in file order, as match answers are confirmed
// (Planner.add), so sync() can send a part as soon as it is full while the
// signature pass still runs. Whether a chunk is a copy, a dup or a literal
// depends only on it and the chunks before it, and parts are cut greedily in
// file order, so a part closed early is exactly the part the whole-file plan
// has: plan() of the same chunks and matches (a resumed push) numbers the
// same parts the same way.
import { WIRE_LIMITS } from '../../core/base/limits.js';
import { DeltaflareError } from '../../core/base/errors.js';
import type { NewChunks } from '../../core/protocol/match.js';
import { orderInPlace } from '../../core/protocol/in-place.js';
import type { CopyOp, DupOp, LiteralOp, PlanMessage } from '../../core/protocol/wire.js';

/** The new file's chunks as the planner takes them: lengths and digests, and CRCs when parts carry theirs. */
export type PlannedChunks = NewChunks & { crcs?: Uint32Array };

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
  /**
   * zlib's crc32_combine: when given, each part carries the CRC32 of its
   * payload, combined from its chunks' CRCs (the chunks must have `crcs`), so
   * a part's body can be framed without reading its bytes (part-body.ts).
   */
  crc32Combine?: (crcA: number, crcB: number, lengthB: number) => number;
}

/** One part: which literal ranges it carries. */
export interface PartPlan {
  part: number;
  ops: LiteralOp[];
  literalBytes: number;
  /** CRC32 of the payload (the ops' bytes in order), when the planner had PlanOptions.crc32Combine. */
  crc?: number;
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
export function plan(chunks: PlannedChunks, oldOffsets: Float64Array, options: PlanOptions): Plan {
  const n = chunks.lengths.length;
  if (oldOffsets.length !== n) throw new DeltaflareError('INVALID_ARGUMENT', `plan: ${oldOffsets.length} oldOffsets for ${n} chunks`);
  const planner = new Planner(options);
  planner.add(chunks, oldOffsets, n);
  return planner.finish();
}

/**
 * A plan built chunk by chunk in file order. `add` returns the parts that
 * are complete (the next literal chunk cannot join them): they are final and
 * may be sent at once; `finish` returns the whole plan, those parts included
 * (the same objects, numbered from 0). An in-place plan closes no part before
 * `finish`: ordering the copies may turn some into literals.
 * @example const p = new Planner({ partSize }); for (const b of batches) send(p.add(chunks, oldOffsets, b.end)); const whole = p.finish()
 */
export class Planner {
  /** Chunks added so far, and the bytes they cover. */
  count = 0;
  size = 0;
  /** Bytes copied from the basis, repeated (dups) and sent as literals, so far. */
  copiedBytes = 0;
  dupBytes = 0;
  literalBytes = 0;
  private readonly copies: CopyOp[] = [];
  private readonly dups: DupOp[] = [];
  /** First literal occurrence of each digest, by digestKey: its chunk index and offset. */
  private readonly firstSeen = new Map<number, { chunk: number; at: number }>();
  private readonly dedup: boolean;
  /** Streaming parts; in place, literal ops and chunk ends wait for finish() instead. */
  private readonly packer: PartPacker | undefined;
  private readonly literals: LiteralOp[] = [];
  private readonly starts: number[] = [];
  /** In place: each chunk's CRC, for finish() to pack (when parts carry CRCs). */
  private readonly crcs: number[] = [];
  private done = false;

  constructor(private readonly options: PlanOptions) {
    checkPartSize(options.partSize);
    this.dedup = options.dedup ?? true;
    if (!options.inPlace) this.packer = new PartPacker(options);
  }

  /** Adds chunks [count, end) with their final old offsets (-1: literal); returns the parts they completed. */
  add(chunks: PlannedChunks, oldOffsets: Float64Array, end: number): PartPlan[] {
    const { lengths, hashes, crcs } = chunks;
    if (this.options.crc32Combine && !crcs) throw new DeltaflareError('INVALID_ARGUMENT', "plan: crc32Combine needs the chunks' crcs");
    if (this.done) throw new DeltaflareError('INTERNAL', 'plan: chunks added after finish()');
    if (end > lengths.length || end > oldOffsets.length)
      throw new DeltaflareError('INVALID_ARGUMENT', `plan: chunk ${end} is beyond the ${lengths.length} chunks given`);
    const closed = this.packer ? this.packer.parts.length : 0;
    for (let i = this.count; i < end; i++) {
      const len = lengths[i];
      const at = this.size;
      this.size += len;
      if (!this.packer) {
        this.starts.push(at);
        this.crcs.push(crcs?.[i] ?? 0);
      }
      if (oldOffsets[i] >= 0) {
        const old = oldOffsets[i];
        const last = this.copies[this.copies.length - 1];
        if (last && last.newOffset + last.length === at && last.oldOffset + last.length === old) last.length += len;
        else this.copies.push({ oldOffset: old, newOffset: at, length: len });
        this.copiedBytes += len;
        this.packer?.gap();
        continue;
      }
      if (this.dedup && len >= MIN_DUP_LENGTH) {
        const key = digestKey(hashes, i);
        const seen = this.firstSeen.get(key);
        const from = seen && sameDigest(hashes, seen.chunk, i) ? seen.at : undefined;
        if (from !== undefined) {
          const last = this.dups[this.dups.length - 1];
          if (last && last.newOffset + last.length === at && last.srcOffset + last.length === from) last.length += len;
          else this.dups.push({ srcOffset: from, newOffset: at, length: len });
          this.dupBytes += len;
          this.packer?.gap();
          continue;
        }
        if (!seen) this.firstSeen.set(key, { chunk: i, at });
      }
      this.literalBytes += len;
      if (this.packer) this.packer.add(at, len, crcs?.[i] ?? 0);
      else pushLiteral(this.literals, at, len);
    }
    this.count = Math.max(this.count, end);
    return this.packer ? this.packer.parts.slice(closed) : [];
  }

  /** The whole plan, once every chunk was added. */
  finish(): Plan {
    this.done = true;
    const size = this.size;
    const inPlace = this.options.inPlace ?? false;
    if (this.packer) {
      this.packer.close();
      return { size, inPlace, copies: this.copies, dups: this.dups, parts: this.packer.parts, converted: 0 };
    }
    const order = orderInPlace(this.copies);
    let literals = this.literals;
    if (order.converted.length > 0) {
      const all = [...literals, ...order.converted.map((c) => ({ newOffset: c.newOffset, length: c.length }))];
      all.sort((a, b) => a.newOffset - b.newOffset);
      literals = [];
      for (const op of all) pushLiteral(literals, op.newOffset, op.length);
      const moved = order.converted.reduce((n, c) => n + c.length, 0);
      this.literalBytes += moved;
      this.copiedBytes -= moved;
    }
    // Cut the sorted literal ops into parts at chunk boundaries (`starts` holds every chunk's offset, then the size).
    this.starts.push(size);
    const packer = new PartPacker(this.options);
    let c = 0;
    for (const op of literals) {
      packer.gap();
      while (this.starts[c] < op.newOffset) c++;
      for (const end = op.newOffset + op.length; this.starts[c] < end; c++) packer.add(this.starts[c], this.starts[c + 1] - this.starts[c], this.crcs[c]);
    }
    packer.close();
    return { size, inPlace, copies: order.copies, dups: this.dups, parts: packer.parts, converted: order.converted.length };
  }
}

/**
 * Packs literal chunks, in file order, into parts of at most partSize bytes
 * and maxPartOps ops (adjacent chunks share an op). A part closes when the
 * next chunk does not fit it, when it is exactly full, or when it has
 * maxPartOps ops and the next literal cannot extend the last one (`gap`):
 * the same cuts however the chunks arrive.
 */
class PartPacker {
  readonly parts: PartPlan[] = [];
  private cur: PartPlan = { part: 0, ops: [], literalBytes: 0 };
  private readonly partSize: number;
  private readonly maxOps: number;
  private readonly combine: PlanOptions['crc32Combine'];

  constructor(options: PlanOptions) {
    this.partSize = options.partSize;
    this.maxOps = options.maxPartOps ?? WIRE_LIMITS.maxPartOps;
    this.combine = options.crc32Combine;
  }

  /** Adds the literal chunk [at, at + len) whose CRC32 is `crc`. */
  add(at: number, len: number, crc: number): void {
    if (len > this.partSize) throw new DeltaflareError('INVALID_ARGUMENT', `a literal chunk of ${len} bytes is longer than partSize ${this.partSize}`);
    let last: LiteralOp | undefined = this.cur.ops[this.cur.ops.length - 1];
    if (last && last.newOffset + last.length !== at) last = undefined; // a new op
    if (this.cur.literalBytes + len > this.partSize || (!last && this.cur.ops.length >= this.maxOps)) {
      this.close();
      last = undefined;
    }
    if (last) last.length += len;
    else this.cur.ops.push({ newOffset: at, length: len });
    if (this.combine) this.cur.crc = this.cur.literalBytes ? this.combine(this.cur.crc!, crc, len) : crc;
    this.cur.literalBytes += len;
    if (this.cur.literalBytes === this.partSize) this.close();
  }

  /** The next literal chunk will not be adjacent: a part with maxPartOps ops is complete. */
  gap(): void {
    if (this.cur.ops.length >= this.maxOps) this.close();
  }

  close(): void {
    if (this.cur.ops.length === 0) return;
    this.parts.push(this.cur);
    this.cur = { part: this.parts.length, ops: [], literalBytes: 0 };
  }
}

function checkPartSize(partSize: number): void {
  if (!Number.isInteger(partSize) || partSize < 1 || partSize > WIRE_LIMITS.maxPartBytes) {
    throw new DeltaflareError('INVALID_ARGUMENT', `partSize ${partSize} is outside 1..${WIRE_LIMITS.maxPartBytes}`);
  }
}

function pushLiteral(ops: LiteralOp[], at: number, len: number): void {
  const last = ops[ops.length - 1];
  if (last && last.newOffset + last.length === at) last.length += len;
  else ops.push({ newOffset: at, length: len });
}

/** A map key from chunk i's digest: its first 6 bytes (sameDigest tells the rare equal keys apart). */
function digestKey(hashes: Uint8Array, i: number): number {
  const o = i * 32;
  return hashes[o] * 2 ** 40 + hashes[o + 1] * 2 ** 32 + ((hashes[o + 2] << 24) >>> 0) + (hashes[o + 3] << 16) + (hashes[o + 4] << 8) + hashes[o + 5];
}

/** Whether chunks a and b have the same 32-byte digest. */
function sameDigest(hashes: Uint8Array, a: number, b: number): boolean {
  for (let k = 0; k < 32; k++) if (hashes[a * 32 + k] !== hashes[b * 32 + k]) return false;
  return true;
}

/** The literal bytes of a part, cut from the new file in op order. @example encodePart({ ...part, deflated: false, payload: partPayload(newFile, part) }) */
export function partPayload(newFile: Uint8Array, part: PartPlan): Uint8Array {
  const out = new Uint8Array(part.literalBytes);
  let at = 0;
  for (const op of part.ops) {
    out.set(newFile.subarray(op.newOffset, op.newOffset + op.length), at);
    at += op.length;
  }
  return out;
}
