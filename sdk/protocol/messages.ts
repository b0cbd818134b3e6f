// The JSON control messages of protocol v1 and the limits both sides agree on.
// Binary messages (signatures, matches, plan, parts) live in wire.ts; the
// whole protocol is described in docs/protocol.md.
import type { ChunkingSpec } from './chunking.js';

/** The protocol version spoken by this build: the URL prefix `/v1` and byte 2 of every binary message. */
export const PROTOCOL_VERSION = 1;

/**
 * Hard caps of the wire format, the same for every server. Decoders reject
 * anything beyond them before allocating; servers advertise (lower) limits.
 */
export const WIRE_LIMITS = {
  /** Largest chunk, bytes: the FastCDC kernel's `max` cap (16 MiB). */
  maxChunkLength: 16 * 1024 * 1024,
  /** Largest offset or size: 2^53 - 1, the largest integer a JS number holds exactly (8 PiB). */
  maxOffset: Number.MAX_SAFE_INTEGER,
  /** Signatures per batch: 2^20, so a batch body is at most 8 MiB + 24 bytes. */
  maxBatch: 1 << 20,
  /** Candidate old chunks per new chunk: distinct strong hashes behind one (crc, length). */
  maxCandidates: 4,
  /** Strong-hash prefix bytes in match answers: 8 (64 bits) up to the full 32-byte BLAKE3. */
  minStrongBytes: 8,
  maxStrongBytes: 32,
  /** Literal bytes per part: 64 MiB keeps a part body well under Workers' 100 MB request cap. */
  maxPartBytes: 64 * 1024 * 1024,
  /** Literal ops per part: 2^16 ops of 12 bytes add at most 768 KiB to a body. */
  maxPartOps: 1 << 16,
  /** Copy + dup ops in one plan message: 2^20 ops of 24 bytes = 24 MiB. */
  maxPlanOps: 1 << 20,
} as const;

/** What a server accepts; sent by `GET /v1/info` and with every new session. */
export interface Limits {
  /** Largest file, bytes. */
  maxFileSize: number;
  /** Literal bytes per part (the last part may hold fewer); at most WIRE_LIMITS.maxPartBytes. */
  partSize: number;
  /** Literal ops per part; at most WIRE_LIMITS.maxPartOps. */
  maxPartOps: number;
  /** Signatures per match request; at most WIRE_LIMITS.maxBatch. */
  maxSignaturesPerBatch: number;
  /** Copy + dup ops per plan; at most WIRE_LIMITS.maxPlanOps. */
  maxPlanOps: number;
  /** Seconds a session lives after its last request. */
  sessionTtlSeconds: number;
  /** Seconds a session lives at most after it was created, whatever its activity (then SESSION_EXPIRED naming this limit). */
  maxSessionLifetimeSeconds: number;
  /**
   * Chunks of one file, new or stored: a manifest costs the server 40 bytes
   * per chunk on disk and ~56 in memory while matched, so this bounds both
   * (2^20: 56 MB). A larger file needs larger chunks (chunkingFor).
   */
  maxManifestChunks: number;
  /** Chunkings a stored version keeps manifests for: each further one is built by reading the version whole. */
  maxChunkingsPerVersion: number;
  /** Bytes of file size one client may have staged in its open sessions (a session reserves its size when it opens). */
  maxStagedBytesPerClient: number;
  /** Seconds a session that has received nothing yet lives (a session is idle-timed by sessionTtlSeconds once it has). */
  emptySessionTtlSeconds: number;
}

/** Defaults a server may start from: 8 MiB parts hold a Workers isolate (128 MB) to a few parts at once. */
export const DEFAULT_LIMITS: Limits = {
  maxFileSize: 64 * 1024 ** 3,
  partSize: 8 * 1024 * 1024,
  maxPartOps: 16384,
  maxSignaturesPerBatch: 65536,
  maxPlanOps: 1 << 20,
  sessionTtlSeconds: 24 * 3600,
  // A week: a resumable push may pause overnight and resume, but no staging area or in-place basis is held for longer.
  maxSessionLifetimeSeconds: 7 * 24 * 3600,
  maxManifestChunks: 1 << 20,
  maxChunkingsPerVersion: 4,
  maxStagedBytesPerClient: 64 * 1024 ** 3,
  emptySessionTtlSeconds: 600,
};

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
  key: string;
  version: string;
  size: number;
  /** Manifest root, hex. */
  root: string;
  /** ISO 8601. */
  updatedAt: string;
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
  INSUFFICIENT_STORAGE: 507,
} as const;

/** A code of PROTOCOL_ERRORS. */
export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;
