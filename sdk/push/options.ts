// What a push takes and gives: sync()'s options (each checked by name when
// it is called), the layout it reports once planned, and its result.
import type { OptionKeys } from '../../core/base/options.js';
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import type { FileInfo } from '../../core/protocol/messages.js';
import type { Metadata } from '../../core/protocol/metadata.js';
import type { RetryOptions } from '../http.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ThreadApi } from '../pool/thread-api.js';
import type { SyncProgress } from './progress.js';
import type { ResumeStore } from './resume.js';

export type { SyncPhase, SyncProgress } from './progress.js';

/** Where each byte of the new file comes from, once planned: for drawing the file (the demo's strip). */
export interface SyncLayout {
  size: number;
  /** [offset, length] ranges found in the basis (copies) or repeated within the file (dups). */
  matched: Array<[number, number]>;
  /**
   * The literal ranges of each part, and whether the part had landed before
   * onPlan: in an earlier run (resumed), or sent while the signature pass ran
   * (onPart was called for those already).
   */
  parts: Array<{ part: number; ranges: Array<[number, number]>; landed: boolean }>;
}

export interface SyncOptions {
  /** The endpoint's base URL, e.g. http://127.0.0.1:19876 */
  endpoint: string;
  /** Where the new version goes. */
  key: string;
  /** The stored file to diff against: default the key itself; another key; null for none. */
  basis?: string | null;
  /** How the file is cut (default: FastCDC-2020 with 2/8/64 KiB chunks, scaled up past 8 GiB; `{ kind: 'fixed', block }` for disk images). */
  chunking?: ChunkingSpec;
  /**
   * The pool that runs the signature pass. A promise is awaited only when
   * the pass starts, so a pool still starting (~100-300 ms for worker threads
   * loading the kernels) overlaps the session request.
   */
  pool: WorkerPool<ThreadApi> | Promise<WorkerPool<ThreadApi>>;
  /** Rebuild inside the stored file, with no second copy on the server. */
  inPlace?: boolean;
  /** Match requests (and, unless partConcurrency says otherwise, parts) in flight at once (default 4). */
  concurrency?: number;
  /**
   * Parts in flight at once (default: `concurrency`). A connection cut loses
   * the parts in flight, so 1 bounds what a resume re-sends to one part; the
   * browser entry uses 1 for that reason.
   */
  partConcurrency?: number;
  /** Bytes read and scanned per worker task (default 8 MiB). */
  segmentSize?: number;
  /** Aborts the push (ABORTED); with `resume`, what landed stays for the next call. */
  signal?: AbortSignal;
  /** Called at most every 100 ms and at each phase change: bytes hashed, matched, sent, rate and ETA. */
  onProgress?: (progress: SyncProgress) => void;
  /** Retries of failed requests (default 4, with backoff from 250 ms; NETWORK, INTERNAL, 5xx and BUSY). */
  retry?: RetryOptions;
  /** Per request attempt: unanswered after this many ms, it is retried as a lost connection (default 5 min; 0 never). */
  timeoutMs?: number;
  /** Part bodies go as streams, not copied by fetch (HttpOptions.streamBodies; push() on Node sets it). */
  streamBodies?: boolean;
  /** The endpoint's write token (or an upload token for this key), sent as a Bearer token. */
  token?: string;
  /** The fetch to use (default the global one): for a proxy agent, tracing or tests. */
  fetch?: typeof fetch;
  /**
   * Makes the push resumable: the session, the matches and the file's
   * signature are kept here (by endpoint and key, checked against a
   * fingerprint of the source), so a push interrupted by a lost connection,
   * a closed tab or a restarted server sends only the parts that had not
   * landed, and an unchanged file is not hashed again. See resume.ts.
   */
  resume?: ResumeStore;
  /** The source's file handle, kept with the resume record (ResumeRecord.handle) so a reload can reopen the file. */
  fileHandle?: unknown;
  /** Called once the plan is known (and after a resume), with where every byte comes from. */
  onPlan?: (layout: SyncLayout) => void;
  /** Called as each part lands on the server; parts that fill while hashing land before onPlan. */
  onPart?: (part: number) => void;
  /**
   * String pairs stored with the new version (tus's Upload-Metadata): returned
   * by HEAD and GET of the file, listings, pull() and the endpoint's hooks. At
   * most 32 pairs and 1,024 bytes as JSON; names of [A-Za-z0-9._-].
   */
  metadata?: Metadata;
}

/** The version a push committed, and what it cost. */
export interface SyncResult extends FileInfo {
  /** Chunks of the new version. */
  chunks: number;
  /** Bytes copied on the endpoint from its stored version (not sent). */
  matchedBytes: number;
  /** Bytes of the file that were not found there: sent, or already landed by the session resumed. */
  literalBytes: number;
  /** All bytes sent over HTTP, bodies only (signatures, plan, parts after compression). */
  bytesSent: number;
  /** All bytes received over HTTP, bodies only. */
  bytesReceived: number;
  /** Wall time of the push, hashing included. */
  seconds: number;
}

/** Every option of `sync`, checked when it is called (core/base/options.ts). */
export const SYNC_OPTIONS: OptionKeys<SyncOptions> = {
  endpoint: true,
  key: true,
  basis: true,
  chunking: true,
  pool: true,
  inPlace: true,
  concurrency: true,
  partConcurrency: true,
  segmentSize: true,
  signal: true,
  onProgress: true,
  retry: true,
  timeoutMs: true,
  streamBodies: true,
  token: true,
  fetch: true,
  resume: true,
  fileHandle: true,
  onPlan: true,
  onPart: true,
  metadata: true,
};
