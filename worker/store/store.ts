// The endpoint's storage interface. One interface, one file per backend
// (fs-store.ts for Node, memory-store.ts for tests; an R2 + Durable Object
// backend comes later), one shared test suite (test/store/suite.ts) that
// every backend must pass.
//
// The shape is chosen so that R2 can implement it: committed objects are never
// written at random offsets (a commit swaps a whole new object in), staged
// data is addressed by absolute offset and may arrive in any order (an R2
// backend regroups it into equal >= 5 MiB multipart parts behind `Staging`),
// and every handle can be reopened by id from another request.
import type { ChunkingSpec } from '../../sdk/protocol/chunking.js';
import type { Manifest } from '../../sdk/protocol/manifest.js';

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

/** One part of an upload received and written to staging. */
export interface PartRecord {
  offset: number;
  length: number;
  /** CRC-32 of the part's bytes, as the client sent it. */
  crc32: number;
}

/**
 * An upload session's state. The store keeps it as JSON (so it must be
 * JSON-serializable) and never interprets it beyond `id`, `expires` and
 * `stagingId`, which `sweep()` uses.
 */
export interface SessionRecord {
  /** 1..128 characters of [A-Za-z0-9_-]; used as a storage name. */
  id: string;
  key: string;
  /** The version the client diffed against; null when the key did not exist. */
  basisVersion: string | null;
  size: number;
  chunking: ChunkingSpec;
  /** The staging area (or in-place handle) the parts land in. */
  stagingId: string;
  parts: PartRecord[];
  /** Ids (e.g. hex digests) of the signature batches received. */
  signatures: string[];
  /** ms since the epoch. */
  created: number;
  expires: number;
  /** Anything else the server wants to keep with the session. */
  extra?: Record<string, unknown>;
}

/** Options for `Store.commit`. */
export interface CommitOptions {
  /** The key's current version must be this (null: the key must not exist), or CONFLICT. */
  expectedVersion: string | null;
  /** Stored as the new version's manifest under `chunkingId(manifest.chunking)`. */
  manifest?: Manifest;
  /** Manifest root of the new version, lowercase hex. */
  root?: string;
}

/**
 * Where a new version is assembled: a staging area of fixed size, or (from
 * `openInPlace`) the key's own file. Offsets are absolute; writes may come in
 * any order and concurrently; nothing is visible to readers until commit.
 */
export interface Staging {
  readonly id: string;
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
  /** Keys starting with `prefix`, ascending, at most `limit` (1..1000) per page. */
  list(prefix: string, limit: number, cursor?: string): Promise<ListPage>;
  /** Removes a key, its manifests and marker. NOT_FOUND if absent; CONFLICT if `expectedVersion` differs. */
  delete(key: string, expectedVersion?: string): Promise<void>;

  /** The manifest of (key, version) under a chunking id, or null if none is stored. */
  getManifest(key: string, version: string, chunkingId: string): Promise<Manifest | null>;
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
  deleteSession(id: string): Promise<void>;
  /** Sessions with `expires <= now`. */
  listExpiredSessions(now: number): Promise<SessionRecord[]>;
  /**
   * Removes expired sessions and their staging data, and staging areas no
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
  /** The storage failed (disk full, permissions, ...); `cause` holds the original error. */
  | 'IO';

/** HTTP status for each code: the one place the mapping lives. IO with ENOSPC/EDQUOT is 507. */
export const STORE_ERROR_STATUS: Record<StoreErrorCode, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  INCOMPLETE: 409,
  INVALID_KEY: 400,
  INVALID_ARGUMENT: 400,
  RANGE: 416,
  LIMIT: 413,
  IO: 500,
};

/**
 * The store's one error class.
 *
 * @example
 * try { await store.commit(key, id, { expectedVersion }) } catch (e) {
 *   if (e instanceof StoreError && e.code === 'CONFLICT') return c.text(e.message, e.status);
 * }
 */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`deltaflare store: ${message}`, options);
  }

  /** The HTTP status this error maps to (see STORE_ERROR_STATUS). */
  get status(): number {
    const errno = (this.cause as { code?: string } | undefined)?.code;
    if (this.code === 'IO' && (errno === 'ENOSPC' || errno === 'EDQUOT')) return 507;
    return STORE_ERROR_STATUS[this.code];
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

/** Session ids double as storage names: 1..128 of [A-Za-z0-9_-]. */
export function checkSessionId(id: string): void {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
    throw new StoreError('INVALID_ARGUMENT', `session id ${JSON.stringify(id)} must be 1..128 characters of [A-Za-z0-9_-]`);
  }
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
