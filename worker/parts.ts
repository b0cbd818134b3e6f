// Parts: literal bytes at absolute offsets of the new file. Each part is
// checked (CRC32 of the body, ops on new chunk boundaries, each chunk's CRC
// against its recorded signature), its chunks hashed with BLAKE3, and its
// bytes written into staging as soon as it arrives, in any order and
// concurrently with other parts. The chunk digests are kept in a session
// blob, "part-<n>": the part's 32-byte digest (BLAKE3 of its header, ops and
// chunk digests: it names the content), u32 chunk count, u32 chunk indices,
// 32-byte chunk digests. The blob is the record that the part
// landed (written after its bytes; the session record is not rewritten per
// part). The part digest tells an identical resend (accepted without work)
// from a different one (PART_CONFLICT).
import type { Limits } from '../core/base/limits.js';
import type { Kernels } from '../core/kernels/api.js';
import { inflateRaw } from '../core/protocol/compress.js';
import { checkPartCrc, decodePart, verifyPartCrc, type LiteralOp, type PartMessage } from '../core/protocol/wire.js';
import { DeltaflareError } from '../core/base/errors.js';
import { ApiError } from './errors.js';
import { fromHex, hex32, toHex } from '../core/protocol/hex.js';
import { eachLimited, stagingConcurrency } from './rebuild.js';
import { partBlobName, type Session, type Sessions } from './sessions.js';
import type { SignatureTable, Signatures } from './signatures.js';
import type { Store } from './store/store.js';
import type { BufferPool } from '../core/base/buffer-pool.js';
import type { ByteBudget } from '../core/base/byte-budget.js';

/** A landed part's digests, as kept in its blob. */
export interface PartDigests {
  body: string;
  /** New chunk indices, ascending. */
  chunks: Uint32Array;
  /** 32 bytes per chunk. */
  hashes: Uint8Array;
}

/** Encodes a part's digests for its blob. */
export function encodePartDigests(body: Uint8Array, chunks: Uint32Array, hashes: Uint8Array): Uint8Array {
  const out = new Uint8Array(36 + 36 * chunks.length);
  const v = new DataView(out.buffer);
  out.set(body, 0);
  v.setUint32(32, chunks.length, true);
  for (let i = 0; i < chunks.length; i++) v.setUint32(36 + 4 * i, chunks[i], true);
  out.set(hashes, 36 + 4 * chunks.length);
  return out;
}

/** Decodes a part blob. */
export function decodePartDigests(bytes: Uint8Array): PartDigests {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = v.getUint32(32, true);
  const chunks = new Uint32Array(n);
  for (let i = 0; i < n; i++) chunks[i] = v.getUint32(36 + 4 * i, true);
  return { body: toHex(bytes.subarray(0, 32)), chunks, hashes: bytes.slice(36 + 4 * n, 36 + 36 * n) };
}

/** The chunk index starting exactly at `at`, or -1. */
export function chunkStarting(offsets: Float64Array, count: number, at: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid] < at) lo = mid + 1;
    else hi = mid;
  }
  return offsets[lo] === at ? lo : -1;
}

/** Lands parts; one in flight per (session, part number). */
export class Parts {
  private readonly inflight = new Map<string, { digest: string; done: Promise<void> }>();

  constructor(
    private readonly store: Store,
    private readonly kernels: Kernels,
    private readonly sessions: Sessions,
    private readonly signatures: Signatures,
    private readonly limits: Limits,
    /** Where deflated payloads inflate: bytes counted against a budget, into pooled buffers (see put). */
    private readonly inflation: { budget: ByteBudget; buffers: BufferPool },
  ) {}

  /** `PUT /v1/sessions/:id/parts/:n`. */
  async put(s: Session, n: number, body: Uint8Array): Promise<void> {
    const k = this.kernels;
    const part = decodePart(body, { crc32: (b) => k.crc32(b), maxLiteralBytes: s.state.partSize, maxOps: this.limits.maxPartOps, verifyCrc: false });
    // Awaited, not returned: workerd reports a rejection that is not handled in the turn it happens.
    if (!part.deflated) return await this.accept(s, n, body, part, async () => part.payload);
    // A deflated body claims up to partSize once inflated, however small it is (zeros deflate ~1000:1): its
    // inflated bytes count against their own budget while they live, in pooled buffers, and only after its
    // ops were checked against the signatures (accept runs `payload` after that).
    return await this.inflation.budget.run(part.literalBytes, async () => {
      const out = this.inflation.buffers.take(part.literalBytes);
      try {
        return await this.accept(s, n, body, part, () => {
          verifyPartCrc(body, n, (b) => k.crc32(b)); // a deflated body's CRC covers its compressed bytes
          return inflateRaw(part.payload, part.literalBytes, out);
        });
      } finally {
        this.inflation.buffers.give(out);
      }
    });
  }

  /** Checks a decoded part (its payload from `payload`, called once its ops are known good), reserves its number and lands it. */
  private async accept(s: Session, n: number, body: Uint8Array, part: PartMessage, payload: () => Promise<Uint8Array>): Promise<void> {
    const k = this.kernels;
    const slot = `${s.id}/${n}`;
    let checked: CheckedPart;
    try {
      if (part.part !== n) throw new ApiError('MALFORMED', `part: the body is part ${part.part}, the URL says ${n}`);
      checked = await this.check(s, n, body, part, payload);
    } catch (e) {
      // A body damaged in transit reads as CHECKSUM_MISMATCH (the client resends it), whichever check it failed first.
      if (!(e instanceof DeltaflareError && e.code === 'CHECKSUM_MISMATCH')) verifyPartCrc(body, n, (b) => k.crc32(b));
      // An identical resend passes the checks its first copy passed: a part number already taken was resent with different bytes.
      if (part.part === n && e instanceof ApiError && e.code === 'INVALID_PLAN') {
        if (this.inflight.has(slot) || (await this.store.getSessionBlob(s.id, partBlobName(n)))) {
          throw new ApiError('PART_CONFLICT', `part ${n} was already sent with different bytes`);
        }
      }
      throw e;
    }
    const { digest } = checked;
    // Reserve the part number under the session lock: a landed or in-flight twin decides.
    const wait = await this.sessions.locked(s.id, async () => {
      const cur = await this.sessions.load(s.id);
      if (cur.state.committed) throw new ApiError('PART_CONFLICT', `session ${s.id} was already committed`);
      const blob = await this.store.getSessionBlob(s.id, partBlobName(n));
      if (blob) {
        if (decodePartDigests(blob).body === digest) return { twin: Promise.resolve() };
        throw new ApiError('PART_CONFLICT', `part ${n} was already sent with different bytes`);
      }
      const twin = this.inflight.get(slot);
      if (twin) {
        // Boxed: returning the promise itself would hold the lock until the twin lands, and the twin needs the lock to record itself.
        if (twin.digest === digest) return { twin: twin.done };
        throw new ApiError('PART_CONFLICT', `part ${n} is being received with different bytes`);
      }
      return null;
    });
    if (wait) return wait.twin;
    let release!: () => void;
    let fail!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      release = res;
      fail = rej;
    });
    done.catch(() => undefined);
    this.inflight.set(slot, { digest, done });
    try {
      await this.land(s, n, part, checked);
      release();
    } catch (e) {
      fail(e);
      throw e;
    } finally {
      this.inflight.delete(slot);
    }
  }

  /**
   * Checks a part against its CRC and the session's signatures, and hashes its
   * chunks: two passes over the payload (chunk CRCs, chunk BLAKE3s). The
   * body's CRC comes from the chunk CRCs by crc32Combine (a raw payload is
   * exactly its chunks), and its digest from the chunk digests, instead of a
   * CRC and a BLAKE3 pass over the whole body: 4 passes were ~60% of the
   * server's CPU on a 1 GiB full upload.
   */
  private async check(s: Session, n: number, body: Uint8Array, part: PartMessage, getPayload: () => Promise<Uint8Array>): Promise<CheckedPart> {
    const k = this.kernels;
    const prefix = body.subarray(0, body.length - 4 - part.payload.length); // header and ops
    const table = await this.signatures.table(s);
    const { chunks, ends } = literalChunks(table, s.size, part.ops);
    const payload = await getPayload();
    const crcs = new Uint32Array(chunks.length);
    let payloadCrc = 0;
    for (let c = 0, start = 0; c < chunks.length; start = ends[c++]) {
      crcs[c] = k.crc32(payload.subarray(start, ends[c]));
      payloadCrc = k.crc32Combine(payloadCrc, crcs[c], ends[c] - start);
    }
    if (!part.deflated) checkPartCrc(body, n, k.crc32Combine(k.crc32(prefix), payloadCrc, payload.length));
    // Every literal chunk's CRC must be its recorded signature's: the commit trusts these lengths and CRCs in the manifest.
    for (let c = 0; c < chunks.length; c++) {
      const i = chunks[c];
      if (crcs[c] !== table.crcs[i]) {
        throw new ApiError(
          'INVALID_PLAN',
          `part ${n}: chunk ${i} at ${table.offsets[i]} has CRC32 ${hex32(crcs[c])}, its signature says ${hex32(table.crcs[i])}`,
        );
      }
    }
    const hashes = k.blake3Chunks(payload, ends);
    // The header and ops, then the chunk digests, name the body's content: an identical resend has the same digest.
    const named = new Uint8Array(prefix.length + hashes.length);
    named.set(prefix);
    named.set(hashes, prefix.length);
    return { digest: toHex(k.blake3(named)), payload, chunks, ends, hashes };
  }

  private async land(s: Session, n: number, part: PartMessage, checked: CheckedPart): Promise<void> {
    const { digest, payload, chunks, hashes } = checked;
    const staging = await this.store.staging(s.stagingId);
    // Ops never overlap: written several at once where the store allows (256 scattered ops were ~256 open/write/close round trips in series).
    const starts: number[] = [];
    for (let i = 0, at = 0; i < part.ops.length; at += part.ops[i++].length) starts.push(at);
    await eachLimited(
      part.ops.map((op, i) => ({ op, at: starts[i] })),
      stagingConcurrency(staging),
      ({ op, at }) => staging.writeAt(op.newOffset, payload.subarray(at, at + op.length)),
    );
    await staging.flush(); // as durable as the blob that records the part as landed
    await this.sessions.locked(s.id, async () => {
      const cur = await this.sessions.load(s.id);
      if (cur.state.committed) throw new ApiError('PART_CONFLICT', `session ${s.id} was already committed`);
      await this.store.putSessionBlob(cur.id, partBlobName(n), encodePartDigests(fromHex(digest), chunks, hashes));
      await this.sessions.touch(cur);
    });
  }
}

/** A part that passed its checks: its digest (see check), payload (inflated) and chunk digests. */
interface CheckedPart {
  digest: string;
  payload: Uint8Array;
  chunks: Uint32Array;
  ends: Uint32Array;
  hashes: Uint8Array;
}

/** The new chunks a part's ops cover, and their ends within the payload; INVALID_PLAN unless ops lie on chunk boundaries. */
function literalChunks(table: SignatureTable, size: number, ops: LiteralOp[]): { chunks: Uint32Array; ends: Uint32Array } {
  const idx: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const op of ops) {
    const end = op.newOffset + op.length;
    if (end > size) throw new ApiError('INVALID_PLAN', `literal ${op.newOffset}..${end} ends past the file size ${size}`);
    if (end > table.offsets[table.count]) {
      throw new ApiError(
        'INCOMPLETE',
        `literal ${op.newOffset}..${end}: signatures are recorded only for bytes 0..${table.offsets[table.count]}; send the match batches first`,
      );
    }
    const a = chunkStarting(table.offsets, table.count, op.newOffset);
    const b = chunkStarting(table.offsets, table.count, end);
    if (a < 0 || b < 0) throw new ApiError('INVALID_PLAN', `literal ${op.newOffset}..${end} does not start and end on chunk boundaries`);
    for (let i = a; i < b; i++) {
      idx.push(i);
      at += table.lengths[i];
      ends.push(at);
    }
  }
  return { chunks: Uint32Array.from(idx), ends: Uint32Array.from(ends) };
}
