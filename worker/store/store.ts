// The endpoint's storage interface. One interface, one file per backend
// (fs/ for Node, memory.ts for tests, r2/ for Workers: R2 + a Durable Object
// per key), one shared test suite (test/worker/store/suite.ts) that
// every backend must pass.
//
// The shape is chosen so that R2 can implement it: committed objects are never
// written at random offsets (a commit swaps a whole new object in), staged
// data is addressed by absolute offset and may arrive in any order (an R2
// backend regroups it into equal >= 5 MiB multipart parts behind `Staging`),
// and every handle can be reopened by id from another request.
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import type { Manifest } from '../../core/protocol/manifest.js';
import type { Metadata } from '../../core/protocol/metadata.js';
import { PROTOCOL_ERRORS, type ProtocolErrorCode } from '../../core/protocol/messages.js';

/** What a committed (or hand-placed) version of a key is. */
export interface VersionInfo {
  /** Opaque id; compare with `===` only. */
  id: string;
  size: number;
  /** Manifest root (BLAKE3 of the concatenated chunk digests), lowercase hex, when known. */
  root?: string;
  /** Commit time (ms since the epoch); for a hand-placed file, its mtime. */
  time: number;
  /** True while an in-place push is rewriting the key: reads fail with INCOMPLETE. */
  incomplete?: boolean;
  /** The metadata its push sent (core/protocol/metadata.ts), when any. */
  metadata?: Metadata;
}

/** One row of `list()`. */
export interface ListEntry {
  key: string;
  version: VersionInfo;
}

/** A page of keys in ascending code-unit order; pass `cursor` back for the next page. */
export interface ListPage {
  entries: ListEntry[];
  /** Absent on the last page. */
  cursor?: string;
}

/**
 * An upload session's state. The store keeps it as JSON (so it must be
 * JSON-serializable, at most MAX_SESSION_BYTES) and interprets only `id`,
 * `key`, `expires` and `stagingId`, which `sweep()` uses. Bulky binary state
 * (signature batches, the plan) goes in session blobs, not here.
 */
export interface SessionRecord {
  /** 1..128 characters of [A-Za-z0-9_-]; used as a storage name. */
  id: string;
  key: string;
  /** The version the client diffed against; null when there was no basis. */
  basisVersion: string | null;
  size: number;
  chunking: ChunkingSpec;
  inPlace: boolean;
  /** The staging area the parts land in. */
  stagingId: string;
  /** New chunks whose signatures are stored (as blobs), as [first, end) index ranges. */
  signatures: Array<[number, number]>;
  /** ms since the epoch. */
  created: number;
  expires: number;
  /** Anything else the server wants to keep with the session. */
  state?: Record<string, unknown>;
  /**
   * Set by a store when it reads a record whose state it can no longer vouch
   * for, saying why; never stored. The fs store writes session state without
   * fsync and stamps records with the machine's boot id, so a record from an
   * earlier boot (its blobs or staged bytes may have died with the page
   * cache) reads with `lost`. The endpoint answers SESSION_EXPIRED; `sweep`
   * removes such sessions as if expired.
   */
  lost?: string;
}

/** Options for `Store.commit`. */
export interface CommitOptions {
  /** The key's current version must be this (null: the key must not exist), or CONFLICT. */
  expectedVersion: string | null;
  /** Stored as the new version's manifest under `chunkingId(manifest.chunking)`. */
  manifest?: Manifest;
  /** Manifest root of the new version, lowercase hex. */
  root?: string;
  /** Stored with the version and answered in its VersionInfo (checked by the caller: core/protocol/metadata.ts). */
  metadata?: Metadata;
}

/**
 * Where a new version is assembled: a staging area of fixed size, or (from
 * `openInPlace`) the key's own file. Offsets are absolute; writes may come in
 * any order and concurrently; nothing is visible to readers until commit.
 */
export interface Staging {
  readonly id: string;
  /**
   * Calls on disjoint ranges this staging area takes at once (default 1):
   * the fs store opens its file per call, so its calls may overlap.
   */
  readonly concurrentCalls?: number;
  /** Current size; fixed for staging areas, changed by `resize` in place. */
  size(): Promise<number>;
  /** Writes `bytes` at `offset`; RANGE if it would end past the size. */
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * Copies `length` bytes of `sourceKey` at `sourceVersion` from `srcOffset`
   * to `dstOffset`, in bounded pieces (COPY_PIECE). CONFLICT if the source is
   * no longer that version. In place, a copy from the key itself behaves like
   * memmove (overlapping ranges are safe).
   */
  copyFrom(sourceKey: string, sourceVersion: string, srcOffset: number, length: number, dstOffset: number): Promise<void>;
  /** Reads back staged bytes (at most MAX_READ per call). */
  readAt(offset: number, length: number): Promise<Uint8Array>;
  /** Makes the staged bytes durable; call before recording parts as received. */
  flush(): Promise<void>;
  /** In place only: truncates or zero-extends the key's file. INVALID_ARGUMENT for staging areas. */
  resize(size: number): Promise<void>;
  /** Drops a staging area. In place, the key stays INCOMPLETE until a push completes it. */
  discard(): Promise<void>;
}

/** One version's bytes, read span by span after one look-up (on R2: one head for all of a request's reads). */
export interface VersionReader {
  info: VersionInfo;
  /** Streams [offset, offset + length) of that version; CONFLICT if the key has moved on. */
  read(offset: number, length: number): Promise<ReadableStream<Uint8Array>>;
}

/** The storage an endpoint needs. Every method may throw `StoreError`. */
export interface Store {
  /** The key's current version, or null if the key does not exist. INVALID_KEY for a refused key. */
  head(key: string): Promise<VersionInfo | null>;
  /**
   * Streams the whole file or `[offset, offset + length)`. NOT_FOUND, INCOMPLETE,
   * CONFLICT if `version` is given and is not current, RANGE if out of bounds.
   */
  read(key: string, opts?: { version?: string; offset?: number; length?: number }): Promise<{ info: VersionInfo; body: ReadableStream<Uint8Array> }>;
  /** Bytes of exactly `version` (CONFLICT if the key has moved on); at most MAX_READ. */
  readRange(key: string, version: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * The current version (or exactly `version`) for several reads, looked up
   * once: NOT_FOUND, INCOMPLETE, CONFLICT as `read`. Optional: without it a
   * reader heads the key, then reads each span with `read`.
   */
  reader?(key: string, version?: string): Promise<VersionReader>;
  /** Keys starting with `prefix`, ascending, at most `limit` (1..1000) per page. */
  list(prefix: string, limit: number, cursor?: string): Promise<ListPage>;
  /** Removes a key, its manifests and marker. NOT_FOUND if absent; CONFLICT if `expectedVersion` differs. */
  delete(key: string, expectedVersion?: string): Promise<void>;

  /** The manifest of (key, version) under a chunking id, or null if none is stored. */
  getManifest(key: string, version: string, chunkingId: string): Promise<Manifest | null>;
  /** The chunking ids of the manifests stored for (key, version), ascending; CONFLICT if `version` is not current. */
  listManifests(key: string, version: string): Promise<string[]>;
  /** Stores a manifest for (key, version); CONFLICT if `version` is not the key's current version. */
  putManifest(key: string, version: string, manifest: Manifest): Promise<void>;

  /** A new staging area of `size` bytes (zero-filled). */
  createStaging(size: number): Promise<Staging>;
  /** Reopens a staging area (or in-place handle) by id; NOT_FOUND if gone. */
  staging(id: string): Promise<Staging>;
  /**
   * Marks `key` incomplete (durably, before any byte changes) and returns a
   * handle writing the key's own file. CONFLICT unless the key is at
   * `expectedVersion`. Commit it with `commit(key, handle.id, ...)`.
   */
  openInPlace(key: string, expectedVersion: string): Promise<Staging>;
  /**
   * Atomically makes the staged data the key's new version (and stores the
   * manifest). CONFLICT, with nothing changed, unless the key is at
   * `expectedVersion`. Commits on one key are serialized; the staging area is
   * consumed.
   */
  commit(key: string, stagingId: string, opts: CommitOptions): Promise<VersionInfo>;

  putSession(record: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  /** Removes the record and its blobs (no-op if absent). Its staging area is the caller's to discard. */
  deleteSession(id: string): Promise<void>;
  /** Stores a named blob with a session (signature batches, the plan); at most MAX_BLOB_BYTES; name as a session id. */
  putSessionBlob(id: string, name: string, bytes: Uint8Array): Promise<void>;
  /** A session blob, or null. */
  getSessionBlob(id: string, name: string): Promise<Uint8Array | null>;
  /** Names of a session's blobs, ascending. */
  listSessionBlobs(id: string): Promise<string[]>;
  /** Every session record, expired ones included (the endpoint restores its per-client counts from them at start). */
  listSessions(): Promise<SessionRecord[]>;
  /**
   * Removes expired (and `lost`) sessions and their staging data, and staging areas no
   * session refers to that are older than ORPHAN_AGE_MS. Returns the ids of
   * the sessions removed.
   */
  sweep(now: number): Promise<string[]>;
}

/** Largest `readRange`/`readAt` (16 MiB): above the 64 KiB default max chunk and R2's 5 MiB minimum part, small enough to hold. */
export const MAX_READ = 16 << 20;
/** `copyFrom` moves data in pieces of 1 MiB, so memory stays bounded whatever the length. */
export const COPY_PIECE = 1 << 20;
/** Largest session record as JSON (2 MB): a Durable Object value's limit, so the R2 backend can keep the same records. */
export const MAX_SESSION_BYTES = 2_000_000;
/** Largest session blob (64 MiB): a plan of the protocol's 1,048,576 max ops at ~24 bytes each, with room. */
export const MAX_BLOB_BYTES = 64 << 20;
/** A staging area no session refers to is removed by `sweep` after a day (86,400,000 ms). */
export const ORPHAN_AGE_MS = 86_400_000;

export type StoreErrorCode =
  /** The key, version, staging area or session does not exist. */
  | 'NOT_FOUND'
  /** The key is not at the expected version, or a path is in the way. */
  | 'CONFLICT'
  /** An in-place push is rewriting the key (or was cut off): its bytes are not a version. */
  | 'INCOMPLETE'
  /** The key is refused; the message names the rule it broke. */
  | 'INVALID_KEY'
  /** An argument is malformed (negative offset, bad id, wrong manifest size). */
  | 'INVALID_ARGUMENT'
  /** An offset/length falls outside the file or staging area. */
  | 'RANGE'
  /** A size limit was hit; the message names it. */
  | 'LIMIT'
  /** The data is being reorganized (R2: a version's compaction); ask again after `retryAfterS`. */
  | 'BUSY'
  /** The storage failed (disk full, permissions, ...); `cause` holds the original error. */
  | 'IO';

/**
 * The protocol error code (core/protocol/messages.ts) each store code answers
 * as; the server's one error mapper uses it. CONFLICT is a version conflict
 * or a path in the way (a key below a file); RANGE on a GET with a Range
 * header is the server's 416.
 */
export const STORE_TO_PROTOCOL: Record<StoreErrorCode, ProtocolErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'VERSION_CONFLICT',
  INCOMPLETE: 'INCOMPLETE',
  INVALID_KEY: 'INVALID_ARGUMENT',
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  RANGE: 'INVALID_ARGUMENT',
  LIMIT: 'TOO_LARGE',
  BUSY: 'BUSY',
  IO: 'INTERNAL',
};

/**
 * The store's one error class.
 *
 * @example
 * try { await store.commit(key, id, { expectedVersion }) } catch (e) {
 *   if (e instanceof StoreError && e.code === 'CONFLICT') return Response.json({ code: e.code, message: e.message }, { status: e.status });
 *   throw e;
 * }
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** `retryAfterS`: for BUSY, when to ask again (the answer's Retry-After). */
    readonly options?: { cause?: unknown; retryAfterS?: number },
  ) {
    super(`deltaflare store: ${message}`, options);
  }

  /** The protocol code this error answers as (STORE_TO_PROTOCOL). */
  get protocolCode(): ProtocolErrorCode {
    return STORE_TO_PROTOCOL[this.code];
  }

  /** The HTTP status: the protocol code's, except 507 Insufficient Storage for IO caused by a full disk or quota. */
  get status(): number {
    const errno = (this.cause as { code?: string } | undefined)?.code;
    if (this.code === 'IO' && (errno === 'ENOSPC' || errno === 'EDQUOT')) return 507;
    return PROTOCOL_ERRORS[this.protocolCode];
  }
}

/** Throws INVALID_ARGUMENT/RANGE unless `[offset, offset + length)` is a valid range within `size`. */
export function checkSpan(what: string, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new StoreError('INVALID_ARGUMENT', `${what}: offset ${offset} is not a non-negative integer`);
  if (!Number.isSafeInteger(length) || length < 0) throw new StoreError('INVALID_ARGUMENT', `${what}: length ${length} is not a non-negative integer`);
  if (offset + length > size) throw new StoreError('RANGE', `${what}: range ${offset}+${length} ends past the size ${size}`);
}

/** Throws LIMIT if a single read asks for more than MAX_READ bytes. */
export function checkReadLength(what: string, length: number): void {
  if (length > MAX_READ) throw new StoreError('LIMIT', `${what}: length ${length} is above the per-read limit ${MAX_READ}`);
}

/** Session ids and blob names double as storage names: 1..128 of [A-Za-z0-9_-]. */
export function checkSessionId(id: string, what = 'session id'): void {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    throw new StoreError('INVALID_ARGUMENT', `${what} ${JSON.stringify(id)} must be 1..128 characters of [A-Za-z0-9_-]`);
  }
}

/** Throws unless a session blob's name and size are acceptable. */
export function checkBlob(name: string, bytes: Uint8Array): void {
  checkSessionId(name, 'blob name');
  if (bytes.length > MAX_BLOB_BYTES) throw new StoreError('LIMIT', `blob ${name} is ${bytes.length} bytes, above the limit ${MAX_BLOB_BYTES}`);
}

/** A session record as JSON bytes, enforcing MAX_SESSION_BYTES (every backend stores it this way). */
export function encodeSession(record: SessionRecord): Uint8Array {
  checkSessionId(record.id);
  const bytes = new TextEncoder().encode(JSON.stringify(record));
  if (bytes.length > MAX_SESSION_BYTES) {
    throw new StoreError('LIMIT', `session ${record.id} is ${bytes.length} bytes as JSON, above the limit ${MAX_SESSION_BYTES}`);
  }
  return bytes;
}

/** CONFLICT naming the version found and the one expected. */
export function conflict(key: string, actual: string | null, expected: string | null): StoreError {
  return new StoreError('CONFLICT', `key ${JSON.stringify(key)} is at version ${actual ?? '(none)'}, not the expected ${expected ?? '(none)'}`);
}

/** INVALID_ARGUMENT unless a list page's limit is 1..1000. */
export function checkListLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new StoreError('INVALID_ARGUMENT', `list: limit ${limit} is outside 1..1000`);
}

/** INVALID_ARGUMENT unless `size` (of a staging area, or a resize) is a non-negative integer. */
export function checkStagingSize(size: number, what = 'staging size'): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new StoreError('INVALID_ARGUMENT', `${what} ${size} is not a non-negative integer`);
}

/** INVALID_ARGUMENT unless a commit's root, when given, is 64 lowercase hex digits. */
export function checkRoot(root: string | undefined): void {
  if (root !== undefined && !/^[0-9a-f]{64}$/.test(root))
    throw new StoreError('INVALID_ARGUMENT', `root ${JSON.stringify(root)} is not 64 lowercase hex digits`);
}
