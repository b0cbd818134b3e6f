// The JSON control messages of protocol v1 and the limits both sides agree on.
// Binary messages (signatures, matches, plan, parts) live in wire.ts; the
// whole protocol is described in docs/protocol.md.
import type { Metadata } from './metadata.js';
import type { Limits } from '../base/limits.js';
import type { ChunkingSpec } from './chunking.js';

/** The protocol version spoken by this build: the URL prefix `/v1` and byte 2 of every binary message. */
export const PROTOCOL_VERSION = 1;

/** `GET /v1/info`. */
export interface InfoResponse {
  protocol: typeof PROTOCOL_VERSION;
  limits: Limits;
}

/** `POST /v1/sessions` body. */
export interface CreateSessionRequest {
  /** Where the new version goes. */
  key: string;
  /**
   * The file to match against: omitted = the current version of `key` (if any);
   * a key = that file's current version; null = none (every byte is literal).
   */
  basis?: string | null;
  /** Size of the new file, bytes. */
  size: number;
  chunking: ChunkingSpec;
  /** Rebuild inside the basis' storage with no second copy (see docs/protocol.md, "In-place"). */
  inPlace?: boolean;
  /** Strong-hash prefix bytes in match answers, 8..32 (default 8). 32 after a ROOT_MISMATCH. */
  strongBytes?: number;
  /** String pairs stored with the version this session commits (metadata.ts: at most 32 pairs, 1,024 bytes as JSON). */
  metadata?: Metadata;
}

/** A stored file version the session matches against. */
export interface BasisInfo {
  key: string;
  version: string;
  size: number;
}

/** `POST /v1/sessions` answer. */
export interface CreateSessionResponse {
  id: string;
  basis: BasisInfo | null;
  partSize: number;
  strongBytes: number;
  /** ISO 8601 time after which the session is gone unless used again. */
  expiresAt: string;
  limits: Limits;
}

/** `GET /v1/sessions/:id`: what has landed, for resuming. */
export interface SessionStatus {
  id: string;
  key: string;
  basis: BasisInfo | null;
  size: number;
  chunking: ChunkingSpec;
  inPlace: boolean;
  /** New chunks whose signatures the server holds, as [first, end) index ranges. */
  signatures: Array<[number, number]>;
  /** True once the plan message (copies and dups) has landed. */
  plan: boolean;
  /** Part numbers that have landed, ascending. */
  parts: number[];
  expiresAt: string;
}

/** `POST /v1/sessions/:id/commit` body. */
export interface CommitRequest {
  /** Manifest root of the new file (BLAKE3 of its chunk digests), 64 lowercase hex digits. */
  root: string;
  size: number;
  /** How many parts the plan has (0..n-1 must all have landed). */
  parts: number;
  /** The basis version the plan was made against; null when there was none. */
  baseVersion: string | null;
}

/** A stored version, as listed and as answered by a commit. */
export interface FileInfo {
  /** The file's key on the endpoint (its path, e.g. "images/disk.img"). */
  key: string;
  /** The version's id: the `expectedVersion` of the next push, the `version` of a pull. */
  version: string;
  /** Bytes. */
  size: number;
  /** Manifest root, hex. */
  root: string;
  /** ISO 8601. */
  updatedAt: string;
  /** What the push that made this version sent as `metadata`, when it sent any. */
  metadata?: Metadata;
}

/** `GET /v1/files?prefix=&cursor=`. */
export interface FileList {
  files: FileInfo[];
  /** Present when more files follow: pass it back as `cursor`. */
  cursor?: string;
}

/** Every 4xx/5xx answer. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Error codes the protocol defines and their HTTP status. The server maps its
 * errors through this table in one place; clients branch on `code`, not status.
 */
export const PROTOCOL_ERRORS = {
  MALFORMED: 400,
  UNSUPPORTED_VERSION: 400,
  INVALID_PLAN: 400,
  CHECKSUM_MISMATCH: 400,
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_EXPIRED: 410,
  VERSION_CONFLICT: 409,
  PART_CONFLICT: 409,
  INCOMPLETE: 409,
  TOO_LARGE: 413,
  TOO_MANY_SESSIONS: 429,
  ROOT_MISMATCH: 422,
  INTERNAL: 500,
  BUSY: 503,
  INSUFFICIENT_STORAGE: 507,
} as const;

/** A code of PROTOCOL_ERRORS. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;
