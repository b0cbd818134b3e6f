// What a pull takes and answers (sdk/pull/pull.ts runs it): where it writes, its
// options (checked at the call), its progress reports and its result.
import type { Metadata } from '../../core/protocol/metadata.js';
import type { OptionKeys } from '../../core/base/options.js';
import type { HttpOptions } from '../http.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ThreadApi } from '../pool/thread-api.js';
import type { SyncSource } from '../source.js';

/** The suffix of an unfinished pull's output, beside the file (both runtimes write it there). */
export const PULL_SUFFIX = '.deltaflare-pull';

/** Where a pull writes the new version. */
export interface PullOutput {
  /** Bytes the output already holds from an interrupted pull of the same size (read to find what landed), or null. */
  readonly resumed: SyncSource | null;
  /** Every byte not written reads as zero (a new, sparse file): all-zero chunks need no write. */
  readonly zeroed?: boolean;
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * The output's path, when pool workers can write to it (Node): the workers
   * that hash the local copy then write the chunks the version wants
   * themselves, so nothing is read or hashed twice.
   */
  readonly path?: string;
  /** Makes the output durable and puts it in place of the local copy. */
  publish(): Promise<void>;
  /** Keeps what landed for a later pull (after a failure). */
  close(): Promise<void>;
  /**
   * Set when the output is the local copy itself (a pull in place): moved
   * chunks are copied within it in an order where no copy reads bytes an
   * earlier one overwrote (core/protocol/in-place.ts); a failure leaves it torn.
   */
  readonly inPlace?: { oldSize: number; readAt(offset: number, length: number): Promise<Uint8Array>; resize(size: number): Promise<void> };
}

export interface PullOptions extends HttpOptions {
  /** The endpoint's URL (it may carry a path: an endpoint mounted under /sync). */
  endpoint: string;
  /** The key to pull. */
  key: string;
  /** Workers that chunk the local copy (createNodePool / createBrowserPool); owned by the caller. */
  pool: WorkerPool<ThreadApi> | Promise<WorkerPool<ThreadApi>>;
  /** Bytes asked for per ranged GET (default 2 MiB). */
  requestBytes?: number;
  /** Ranged GETs in flight (default 4). */
  concurrency?: number;
  /** The version expected (an id from a push's result or a file's X-Deltaflare-Version): VERSION_CONFLICT if the key is at another. */
  version?: string;
  /**
   * Digest bytes per chunk in the manifest asked for (default 8; 32: whole
   * digests). Chunks are found and checked by these; the whole file is then
   * checked against the version's root with whole digests, and a mismatch
   * (a prefix collision) pulls again with 32.
   */
  digestBytes?: number;
  /**
   * Bytes per block when a run of chunks not found in the local copy is
   * rebuilt from the copy's blocks that stay (GET /v1/blocks): a power of
   * two, 256..65536 (default 1024); 0 fetches such chunks whole.
   */
  blockSize?: number;
  /**
   * The most chunks a version may have (default 2^20, the endpoint's default
   * maxManifestChunks): what the pull holds grows with the chunk count
   * (~100 bytes a chunk), so this bounds its memory. A manifest over it is
   * refused before it is read.
   */
  maxChunks?: number;
  /** Called with the pull's progress at each phase change and as chunks are found and fetched. */
  onProgress?: (p: PullProgress) => void;
}

/** Every option of the core `pull`, checked when it is called (core/base/options.ts). */
export const PULL_OPTIONS: OptionKeys<PullOptions> = {
  endpoint: true,
  key: true,
  pool: true,
  requestBytes: true,
  concurrency: true,
  version: true,
  digestBytes: true,
  blockSize: true,
  maxChunks: true,
  onProgress: true,
  fetch: true,
  signal: true,
  retry: true,
  token: true,
  timeoutMs: true,
  onBytes: true,
  streamBodies: true,
};

/** What a pull's `onProgress` receives, at most every 100 ms and at each phase change. */
export interface PullProgress {
  /** Getting the version's manifest, scanning the local copy, fetching what it lacks (scanning may go on), done. */
  phase: 'manifest' | 'scanning' | 'fetching' | 'done';
  /** Bytes of the version being pulled. */
  size: number;
  /** Bytes found in the local copy or already landed, so far. */
  foundBytes: number;
  /** Bytes fetched and checked, so far. */
  fetchedBytes: number;
  /** Bytes per second found or fetched since the pull started. */
  rate: number;
  /** Seconds left at `rate` (0 until a rate is known). */
  eta: number;
  /** Once, when fetching starts: where the version's bytes come from, as [offset, length] runs of the new file. */
  layout?: {
    /** Runs found locally. */
    found: Array<[number, number]>;
    /** Runs to fetch. */
    fetch: Array<[number, number]>;
  };
  /** The spans of the new file that landed since the last report (fetched and checked). */
  landed?: Array<[number, number]>;
}

/** What a pull did: the version it wrote and where its bytes came from. */
export interface PullResult {
  /** The key pulled. */
  key: string;
  /** The version now in the file. */
  version: string;
  /** Bytes. */
  size: number;
  /** BLAKE3 of the manifest's chunk digests: the version's root. */
  root: string;
  /** The metadata the push of this version sent, when any. */
  metadata?: Metadata;
  /** Chunks in the version's manifest. */
  chunks: number;
  /** Bytes copied from the local copy. */
  copiedBytes: number;
  /** Of those, bytes the scan's workers wrote into the output as they hashed them (the rest were read and hashed again to be copied). */
  placedBytes: number;
  /** Bytes an interrupted pull had already written where they belong. */
  resumedBytes: number;
  /** Bytes of chunks not found whole that were rebuilt from the local copy's blocks (the rest of those chunks is in fetchedBytes). */
  blockBytes: number;
  /** Bytes fetched from the endpoint (chunk bytes, not counting framing). */
  fetchedBytes: number;
  /** Bytes of chunks that repeat an earlier fetched chunk, written from its bytes instead of fetched again. */
  dupBytes: number;
  /** Bytes of all-zero chunks: neither read nor fetched (written from memory, or left as holes of a new output). */
  zeroBytes: number;
  /** Ranged GETs sent (and block digest requests). */
  requests: number;
  /** All bytes received over HTTP, bodies only (manifest, chunks, framing). */
  bytesReceived: number;
  /** Wall time of the pull. */
  seconds: number;
}
