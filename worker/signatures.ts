// Signature batches: recorded as session blobs when they arrive (the server
// then knows every new chunk's length and CRC at commit without a second
// upload), answered from the basis' weak index, and read back as one chunk
// table (lengths, CRCs, offsets) for checking parts and the commit.
import type { Limits } from '../core/base/limits.js';
import { decodeSignatures, encodeMatches, type SignatureBatch } from '../core/protocol/wire.js';
import { matchBatch } from '../core/protocol/match.js';
import { ApiError } from './errors.js';
import type { ManifestCache } from './manifests.js';
import { addRange, type Session, type Sessions } from './sessions.js';
import type { Store } from './store/store.js';
import type { ChunkingSpec } from '../core/protocol/chunking.js';

/** New chunks [0, count) of a session: 16 bytes per chunk. */
export interface SignatureTable {
  count: number;
  lengths: Uint32Array;
  crcs: Uint32Array;
  /** count + 1 entries; offsets[count] is the bytes covered. */
  offsets: Float64Array;
}

const blobName = (first: number, count: number) => `sig-${first}-${count}`;
const BLOB = /^sig-(\d+)-(\d+)$/;

/** Chunk tables of recent sessions: 16 of them (a table is 16 B/chunk, 2 MB for a 1 GiB file at 8 KiB chunks). */
const TABLES_KEPT = 16;

/** Records signature batches and serves chunk tables. */
export class Signatures {
  private readonly tables = new Map<string, SignatureTable>();

  constructor(
    private readonly store: Store,
    private readonly sessions: Sessions,
    private readonly manifests: ManifestCache,
    private readonly limits: Limits,
  ) {}

  /**
   * `POST /v1/sessions/:id/match`: records the batch (identical resends are
   * accepted, different or overlapping ones are PART_CONFLICT) and answers
   * the encoded matches.
   */
  async match(id: string, body: Uint8Array): Promise<Uint8Array> {
    const batch = decodeSignatures(body, this.limits.maxSignaturesPerBatch);
    const first = batch.firstIndex;
    const end = first + batch.crcs.length;
    const s = await this.sessions.update(id, async (s) => {
      if (s.state.committed) throw new ApiError('PART_CONFLICT', `session ${id} was already committed`);
      checkLengths(s.chunking as ChunkingSpec, batch);
      const name = blobName(first, batch.crcs.length);
      const old = await this.store.getSessionBlob(s.id, name);
      if (old) {
        if (!sameBatch(decodeSignatures(old), batch))
          throw new ApiError('PART_CONFLICT', `signatures of chunks ${first}..${end} were already sent with different values`);
        if (covered(s.signatures, first, end)) return s; // a resend: same answer, nothing to record
      } else {
        const clash = s.signatures.find(([a, b]) => a < end && first < b);
        if (clash) throw new ApiError('PART_CONFLICT', `signatures of chunks ${first}..${end} overlap the batch ${clash[0]}..${clash[1]} already recorded`);
      }
      if (end > this.limits.maxManifestChunks)
        throw new ApiError(
          'TOO_LARGE',
          `signatures of chunks up to ${end}, above the limit maxManifestChunks ${this.limits.maxManifestChunks}: use larger chunks`,
        );
      let sum = 0;
      for (let i = 0; i < batch.lengths.length; i++) sum += batch.lengths[i];
      if (s.state.sigBytes + sum > s.size) {
        throw new ApiError('INVALID_ARGUMENT', `signatures cover ${s.state.sigBytes + sum} bytes, above the file size ${s.size}`);
      }
      if (!old) await this.store.putSessionBlob(s.id, name, body);
      s.signatures = addRange(s.signatures, first, end);
      s.state.sigBytes += sum;
      return s;
    });
    const strong = s.state.strongBytes;
    if (!s.state.basis) return encodeMatches({ firstIndex: first, count: batch.crcs.length, strongBytes: strong, runs: [], hashes: new Uint8Array(0) });
    const { index } = await this.manifests.get(s.state.basis.key, s.state.basis.version, s.chunking as ChunkingSpec);
    return encodeMatches(matchBatch(index, batch, strong));
  }

  /**
   * The chunks [0, n) recorded without a gap from index 0 (n = 0 when chunk 0
   * is missing). Recorded chunks never change, so a table grows from the one
   * kept: only batches past its end are read (while a first push streams its
   * signatures, rereading every batch for each part was the largest share of
   * the Worker's own CPU).
   */
  async table(s: Session): Promise<SignatureTable> {
    const n = s.signatures.length > 0 && s.signatures[0][0] === 0 ? s.signatures[0][1] : 0;
    const hit = this.tables.get(s.id);
    if (hit && hit.count === n) return hit;
    const have = hit && hit.count < n ? hit.count : 0;
    const lengths = new Uint32Array(n);
    const crcs = new Uint32Array(n);
    if (have > 0) {
      lengths.set(hit!.lengths);
      crcs.set(hit!.crcs);
    }
    const names = await this.store.listSessionBlobs(s.id);
    for (const name of names) {
      const m = BLOB.exec(name);
      if (!m || Number(m[1]) >= n || Number(m[1]) + Number(m[2]) <= have) continue;
      const bytes = await this.store.getSessionBlob(s.id, name);
      if (!bytes) continue;
      const b = decodeSignatures(bytes);
      if (b.firstIndex + b.crcs.length > n) continue; // recorded past a gap: not in the prefix yet
      lengths.set(b.lengths, b.firstIndex);
      crcs.set(b.crcs, b.firstIndex);
    }
    const offsets = new Float64Array(n + 1);
    if (have > 0) offsets.set(hit!.offsets.subarray(0, have + 1));
    for (let i = have; i < n; i++) offsets[i + 1] = offsets[i] + lengths[i];
    const table = { count: n, lengths, crcs, offsets };
    this.tables.delete(s.id);
    this.tables.set(s.id, table);
    if (this.tables.size > TABLES_KEPT) this.tables.delete(this.tables.keys().next().value!);
    return table;
  }

  /** Forgets a session's table (commit or abort). */
  forget(id: string): void {
    this.tables.delete(id);
  }
}

/** Every length within the chunking's maximum (cdc max, or the fixed block). */
function checkLengths(spec: ChunkingSpec, batch: SignatureBatch): void {
  const max = spec.kind === 'cdc' ? spec.max : spec.block;
  for (let i = 0; i < batch.lengths.length; i++) {
    if (batch.lengths[i] > max) {
      throw new ApiError('INVALID_ARGUMENT', `signature ${batch.firstIndex + i}: length ${batch.lengths[i]} is above the chunking's maximum ${max}`);
    }
  }
}

function covered(ranges: Array<[number, number]>, a: number, b: number): boolean {
  return ranges.some(([x, y]) => x <= a && b <= y);
}

function sameBatch(a: SignatureBatch, b: SignatureBatch): boolean {
  if (a.firstIndex !== b.firstIndex || a.crcs.length !== b.crcs.length) return false;
  for (let i = 0; i < a.crcs.length; i++) if (a.crcs[i] !== b.crcs[i] || a.lengths[i] !== b.lengths[i]) return false;
  return true;
}
