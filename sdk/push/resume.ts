// Resuming a push, runtime-neutral. sync() keeps, per (endpoint, key), a
// record in a ResumeStore (IndexedDB in browsers, see browser/idb-store.ts):
//
//   fingerprint  name, size, lastModified and BLAKE3 of sampled windows: is it the same file?
//   signature    every chunk's length, CRC-32 and BLAKE3 (40 bytes per chunk: 1.3 MB
//                for 256 MiB at 8 KiB chunks), so an unchanged file is not hashed again;
//                kept apart from the record and written once per pass, since the record
//                is written again as batches go and parts land
//   session      the open upload session, saved as soon as it opens: while the signature
//                pass runs, the bounds of each signature batch (recorded before the batch
//                is sent); once it ends, the confirmed matches against the basis. A push
//                resumed after the pass recomputes the same plan from the matches; one
//                resumed during the pass hashes again and sends the same batches again
//                (the server answers an identical batch with the same matches), so its
//                planner closes the same parts. Either way it sends only the parts the
//                server lacks (GET /v1/sessions/:id).
//
// A record whose fingerprint differs from the source is dropped (its session
// deleted on the server): the plan is recomputed and nothing stale committed.
import type { Limits } from '../../core/base/limits.js';
import type { DeltaflareError } from '../../core/base/errors.js';
import { Http, type HttpOptions } from '../http.js';
import type { Kernels } from '../../core/kernels/index.js';
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import { type Metadata, sameMetadata } from '../../core/protocol/metadata.js';
import type { SessionStatus } from '../../core/protocol/messages.js';
import { type SyncSource, sourceChangedError } from '../source.js';
import { toHex } from '../../core/protocol/hex.js';

/** What identifies a file's content cheaply: metadata plus a hash of sampled windows. */
export interface Fingerprint {
  name?: string;
  size: number;
  lastModified?: number;
  /** BLAKE3 (hex) of SAMPLE_WINDOWS windows of SAMPLE_BYTES spread over the file. */
  sample: string;
}

/** Every chunk of one file: what the signature pass computes. */
export interface StoredSignature {
  chunking: ChunkingSpec;
  lengths: Uint32Array;
  crcs: Uint32Array;
  /** 32 bytes per chunk. */
  hashes: Uint8Array;
}

/** An open upload session and the matches its plan is made from. */
export interface StoredSession {
  id: string;
  /** The basis version the matches refer to (null: no basis). */
  basisVersion: string | null;
  inPlace: boolean;
  /** Confirmed old offset per chunk, -1 for literal chunks (empty while `pass` is set). */
  oldOffsets: Float64Array;
  /**
   * Set while the signature pass has not finished: the [first, end) chunk
   * ranges of the signature batches sent so far, in order. Parts may land
   * meanwhile (sync.ts sends them as they fill).
   */
  pass?: { batches: Array<[number, number]> };
  /** The session's part size and limits (GET /v1/sessions/:id does not repeat them). */
  partSize: number;
  limits: Limits;
  /** The metadata the session was opened with: a push with other metadata opens another session. */
  metadata?: Metadata;
  /** Literal bytes the plan sends (while `pass` is set: those found so far), and how many landed (for a "resume?" prompt). */
  literalBytes: number;
  landedBytes: number;
  expiresAt: string;
}

/** One record per (endpoint, key). */
export interface ResumeRecord {
  /** resumeId(endpoint, key) */
  id: string;
  endpoint: string;
  key: string;
  fingerprint: Fingerprint;
  session?: StoredSession;
  /** ms since the epoch. */
  updatedAt: number;
  /**
   * The file's handle where the platform has them (a browser's
   * FileSystemFileHandle, storable in IndexedDB): a page reloaded after a
   * crash reopens the file with one permission prompt (browser reopenFile).
   */
  handle?: unknown;
}

/**
 * Where resume records live: IndexedDB in browsers (idbResumeStore), memory
 * or disk elsewhere. A record is small and written often; its file's
 * signature is large and written once per signature pass.
 */
export interface ResumeStore {
  get(id: string): Promise<ResumeRecord | undefined>;
  put(record: ResumeRecord): Promise<void>;
  /** Deletes the record and its signature. */
  delete(id: string): Promise<void>;
  /** Every record (the demo lists unfinished uploads after a reload). */
  list(): Promise<ResumeRecord[]>;
  getSignature(id: string): Promise<StoredSignature | undefined>;
  /** Keeps the signature of record `id`'s file; undefined forgets it. */
  putSignature(id: string, signature: StoredSignature | undefined): Promise<void>;
}

/** Window count and size of the sampled hash: 16 x 64 KiB = 1 MiB read, ~2 ms of BLAKE3. */
export const SAMPLE_WINDOWS = 16;
export const SAMPLE_BYTES = 64 * 1024;

/** The record id of a push of `key` to `endpoint`. */
export const resumeId = (endpoint: string, key: string): string => `${endpoint.replace(/\/+$/, '')}\n${key}`;

/**
 * The fingerprint of `source`: its metadata and BLAKE3 of SAMPLE_WINDOWS
 * windows (the first, the last and evenly spaced ones between; the whole
 * file when it is at most 1 MiB).
 * @example const fp = await fingerprint(blobSource(file), await init())
 */
export async function fingerprint(source: SyncSource, k: Kernels): Promise<Fingerprint> {
  const { size } = source;
  const buffer = new Uint8Array(Math.min(size, SAMPLE_WINDOWS * SAMPLE_BYTES));
  if (size <= buffer.length) buffer.set(await source.read(0, size));
  else {
    const step = (size - SAMPLE_BYTES) / (SAMPLE_WINDOWS - 1);
    for (let i = 0; i < SAMPLE_WINDOWS; i++) buffer.set(await source.read(Math.round(i * step), SAMPLE_BYTES), i * SAMPLE_BYTES);
  }
  return { name: source.name, size, lastModified: source.lastModified, sample: toHex(k.blake3(buffer)) };
}

/** Whether two fingerprints describe the same content (metadata a side lacks is not compared). */
export function sameFile(a: Fingerprint, b: Fingerprint): boolean {
  const same = <T>(x: T | undefined, y: T | undefined) => x === undefined || y === undefined || x === y;
  return a.size === b.size && a.sample === b.sample && same(a.name, b.name) && same(a.lastModified, b.lastModified);
}

/** Whether two chunking specs cut the same chunks. */
export function sameChunking(a: ChunkingSpec, b: ChunkingSpec): boolean {
  return JSON.stringify(a, Object.keys(a).sort()) === JSON.stringify(b, Object.keys(b).sort());
}

/**
 * Records in a Map: for Node and tests, or a page that should not persist.
 * @example await push('a.bin', { endpoint, key, resume: new MemoryResumeStore() })
 */
export class MemoryResumeStore implements ResumeStore {
  private readonly records = new Map<string, ResumeRecord>();
  private readonly signatures = new Map<string, StoredSignature>();
  /** Writes so far, records and signatures (tests count them). */
  readonly writes = { records: 0, signatures: 0 };
  async get(id: string) {
    return this.records.get(id);
  }
  async put(record: ResumeRecord) {
    this.writes.records++;
    this.records.set(record.id, structuredClone(record));
  }
  async delete(id: string) {
    this.records.delete(id);
    this.signatures.delete(id);
  }
  async list() {
    return [...this.records.values()];
  }
  async getSignature(id: string) {
    return this.signatures.get(id);
  }
  async putSignature(id: string, signature: StoredSignature | undefined) {
    this.writes.signatures++;
    if (signature) this.signatures.set(id, structuredClone(signature));
    else this.signatures.delete(id);
  }
}

/** Errors after which the same session may still be resumed: the rest mean it is of no further use. */
const TRANSIENT = new Set(['NETWORK', 'ABORTED', 'INTERNAL', 'CHECKSUM_MISMATCH']);
/** Progress writes (landed bytes) at most this often: one IndexedDB put per 8 MiB part would be fine, per 1 s is bounded. */
const SAVE_EVERY_MS = 1000;

/**
 * sync()'s view of one resume record: what it may reuse and when to save.
 * @example const r = await Resumer.open(resume, { endpoint, key, source, k, http })
 */
export class Resumer {
  private lastSave = 0;

  private constructor(
    private readonly store: ResumeStore,
    private readonly record: ResumeRecord,
    private readonly http: Http,
    private readonly k: Kernels,
    /** The record on file described this same file (fingerprints agree). */
    readonly known: boolean,
    /** Its file's signature, when one was kept. */
    private stored: StoredSignature | undefined,
  ) {}

  /**
   * Loads the record of (endpoint, key) and checks it against the source's
   * fingerprint. A record of other content is replaced, and its session
   * deleted on the server (best effort), so nothing stale is ever committed.
   */
  static async open(store: ResumeStore, o: { endpoint: string; key: string; source: SyncSource; k: Kernels; http: Http; handle?: unknown }): Promise<Resumer> {
    const id = resumeId(o.endpoint, o.key);
    const fp = await fingerprint(o.source, o.k);
    const old = await store.get(id);
    if (old && sameFile(old.fingerprint, fp)) {
      if (o.handle !== undefined) old.handle = o.handle;
      return new Resumer(store, old, o.http, o.k, true, await store.getSignature(id));
    }
    if (old?.session) await deleteSession(o.http, old.session.id);
    if (old) await store.delete(id); // its signature is of other content
    const record: ResumeRecord = { id, endpoint: o.endpoint, key: o.key, fingerprint: fp, updatedAt: Date.now(), handle: o.handle };
    return new Resumer(store, record, o.http, o.k, false, undefined);
  }

  /** The stored signature, if it was computed with `chunking`. */
  signature(chunking: ChunkingSpec): StoredSignature | undefined {
    const s = this.stored;
    return s && sameChunking(s.chunking, chunking) ? s : undefined;
  }

  /**
   * The stored session and its status, if the server still has it and it is
   * the one this push would open (same size, key, chunking, in-place flag,
   * basis version); otherwise forgets it (and deletes it on the server).
   */
  async session(want: {
    size: number;
    chunking: ChunkingSpec;
    inPlace: boolean;
    metadata?: Metadata;
  }): Promise<{ stored: StoredSession; status: SessionStatus } | undefined> {
    const stored = this.record.session;
    // After the pass the matches need the signature they were confirmed for; during it the pass runs again.
    if (!stored || (!stored.pass && !this.signature(want.chunking))) return undefined;
    let status: SessionStatus;
    try {
      status = await this.http.json<SessionStatus>('GET', `/v1/sessions/${encodeURIComponent(stored.id)}`);
    } catch (e) {
      if (!['NOT_FOUND', 'SESSION_EXPIRED'].includes((e as DeltaflareError).code)) throw e;
      await this.dropSession(false);
      return undefined;
    }
    const fits =
      status.size === want.size &&
      status.key === this.record.key &&
      status.inPlace === want.inPlace &&
      sameChunking(status.chunking, want.chunking) &&
      (status.basis?.version ?? null) === stored.basisVersion &&
      sameMetadata(stored.metadata, want.metadata) &&
      (!stored.pass || consecutive(stored.pass.batches));
    if (fits) return { stored, status };
    await this.dropSession(true);
    return undefined;
  }

  /** Keeps the signature of the whole file (once the pass has finished). */
  async saveSignature(signature: StoredSignature): Promise<void> {
    this.stored = { ...signature, lengths: signature.lengths.slice(), crcs: signature.crcs.slice(), hashes: signature.hashes.slice() };
    await this.store.putSignature(this.record.id, this.stored);
  }

  /**
   * Keeps the session: with `pass` as soon as it opens (before any batch or
   * part is sent), then with its matches once the pass is over, so every
   * part that lands can be found again.
   */
  async saveSession(session: StoredSession): Promise<void> {
    this.record.session = { ...session, oldOffsets: session.oldOffsets.slice(), pass: session.pass && { batches: [...session.pass.batches] } };
    await this.save();
  }

  /** Records a signature batch's bounds: call (and await) before sending it, so a resumed pass sends the same batches. */
  async batchSent(first: number, end: number): Promise<void> {
    const pass = this.record.session?.pass;
    if (!pass) return;
    pass.batches.push([first, end]);
    await this.save();
  }

  /** While the pass runs: the literal bytes found so far (saved with the next batch or landed part). */
  found(literalBytes: number): void {
    if (this.record.session?.pass) this.record.session.literalBytes = literalBytes;
  }

  /** Records the plan's literal bytes and those already on the server. */
  async planned(literalBytes: number, landedBytes: number): Promise<void> {
    if (!this.record.session) return;
    Object.assign(this.record.session, { literalBytes, landedBytes });
    await this.save();
  }

  /** Counts literal bytes that landed (saved at most every SAVE_EVERY_MS). */
  async landed(bytes: number): Promise<void> {
    if (!this.record.session) return;
    this.record.session.landedBytes += bytes;
    if (Date.now() - this.lastSave >= SAVE_EVERY_MS) await this.save();
  }

  /**
   * Throws SOURCE_CHANGED (and forgets the record's session and signature)
   * if the source no longer matches the fingerprint: a file edited or
   * replaced while the push ran. Called just before the commit.
   */
  async verify(source: SyncSource): Promise<void> {
    let fp: Fingerprint | undefined;
    try {
      fp = await fingerprint(source, this.k);
    } catch {
      // Chromium refuses to read a File changed on disk since it was picked (NotReadableError)
    }
    if (fp && sameFile(fp, this.record.fingerprint)) return;
    await this.dropSession(true);
    this.stored = undefined; // of the old content
    await this.store.putSignature(this.record.id, undefined);
    throw sourceChangedError(source.name);
  }

  /** After an error: forgets the session unless the error leaves it usable (network, abort, 5xx). */
  async failed(error: unknown): Promise<void> {
    const code = (error as DeltaflareError)?.code;
    if (!TRANSIENT.has(code)) await this.dropSession(true).catch(() => {});
    else await this.save().catch(() => {});
  }

  /** After a commit: the session is done; the signature stays for the next push of the same file. */
  async committed(): Promise<void> {
    this.record.session = undefined;
    await this.save();
  }

  private async dropSession(onServer: boolean): Promise<void> {
    const s = this.record.session;
    if (!s) return;
    this.record.session = undefined;
    if (onServer) await deleteSession(this.http, s.id);
    await this.save();
  }

  private async save(): Promise<void> {
    this.lastSave = Date.now();
    this.record.updatedAt = this.lastSave;
    await this.store.put(this.record);
  }
}

/** Whether batch bounds follow each other from chunk 0 (a record written by this code always does). */
function consecutive(batches: Array<[number, number]>): boolean {
  return batches.every(([first, end], i) => Number.isInteger(first) && end > first && first === (i === 0 ? 0 : batches[i - 1][1]));
}

/**
 * Gives up an unfinished push of `key` to `endpoint` kept in `store`: its
 * session is deleted on the endpoint (its staged bytes freed now, not when
 * it expires) and its record forgotten. Answers whether there was a session.
 * @example await discard(fileResumeStore(defaultResumeDir()), { endpoint, key: 'disk.img', token })
 */
export async function discard(
  store: ResumeStore,
  o: {
    /** The endpoint the push went to, as given to it. */
    endpoint: string;
    /** The key it pushed. */
    key: string;
  } & HttpOptions,
): Promise<boolean> {
  const { endpoint, key, ...http } = o;
  const id = resumeId(endpoint, key);
  const record = await store.get(id);
  if (!record) return false;
  if (record.session) await deleteSession(new Http(endpoint, http), record.session.id);
  await store.delete(id);
  return record.session !== undefined;
}

/** DELETE /v1/sessions/:id, ignoring failures (the server expires it anyway). */
async function deleteSession(http: Http, id: string): Promise<void> {
  await http.bytes('DELETE', `/v1/sessions/${encodeURIComponent(id)}`).catch(() => {});
}
