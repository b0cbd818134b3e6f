// Every limit and chunking parameter of deltaflare, in one place: the wire
// format's hard caps, the limits a server advertises, the request body caps
// they imply, the chunkers' ranges and defaults, and the endpoint's and
// runtimes' defaults. Routes, stores, the SDK and the CLI import them from
// here; test/core/base/limits.test.ts checks them against the kernels' own.
import { checkRange } from './errors.js';
import { checkOptions, type OptionKeys } from './options.js';

// ---------------------------------------------------------------- chunking

/**
 * FastCDC-2020's parameter ranges, the reference crate's (min 64..1 MiB,
 * avg 256..4 MiB, max 1 KiB..16 MiB, level 0..3); the kernel traps outside
 * them (assembly/fastcdc-tables.ts: MIN_LO..MAX_HI).
 */
export const CDC_RANGES = {
  min: [64, 1 << 20],
  avg: [256, 4 << 20],
  max: [1024, 16 << 20],
  level: [0, 3],
} as const;

/** FastCDC-2020 with the reference's level 1 and 2/8/64 KiB chunks: the default chunking. */
export const CDC_DEFAULTS = { min: 2048, avg: 8192, max: 65536, level: 1 } as const;

/**
 * Smallest fixed block, bytes, for client and server alike: below 64 the
 * 4-byte CRC of a signature outweighs the data it describes. The largest is
 * WIRE_LIMITS.maxChunkLength (and, on a server, its part size).
 */
export const FIXED_BLOCK_MIN = 64;

/** The largest `max` the SDK scales its default chunking to for big files: 4 MiB, the Workers part size (a literal chunk never spans parts). */
export const MAX_SCALED_CHUNK = 4 << 20;

// ---------------------------------------------------------------- wire format

/**
 * Hard caps of the wire format, the same for every server. Decoders reject
 * anything beyond them before allocating; servers advertise (lower) limits.
 */
export const WIRE_LIMITS = {
  /** Largest chunk, bytes: the FastCDC kernel's `max` cap (16 MiB). */
  maxChunkLength: CDC_RANGES.max[1],
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

/** Strong-hash prefix bytes a session gets unless it asks for more (a ROOT_MISMATCH retries with 32). */
export const DEFAULT_STRONG_BYTES = 8;

// ---------------------------------------------------------------- server limits

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

const YEAR_SECONDS = 365 * 86400;

/** Every key of Limits: an unknown one (a misspelt limit) is an error, not a default kept in silence. */
const LIMIT_KEYS: OptionKeys<Limits> = {
  maxFileSize: true,
  partSize: true,
  maxPartOps: true,
  maxSignaturesPerBatch: true,
  maxPlanOps: true,
  sessionTtlSeconds: true,
  maxSessionLifetimeSeconds: true,
  maxManifestChunks: true,
  maxChunkingsPerVersion: true,
  maxStagedBytesPerClient: true,
  emptySessionTtlSeconds: true,
};

/** Fills and checks limits: each known and within the wire format's hard caps (INVALID_ARGUMENT naming the limit). */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  checkOptions('limits', overrides, LIMIT_KEYS);
  const l = { ...DEFAULT_LIMITS, ...overrides };
  checkRange('limits.maxFileSize', l.maxFileSize, 0, WIRE_LIMITS.maxOffset);
  // A literal chunk is never split across parts, so a part must hold the smallest CDC max (1 KiB).
  checkRange('limits.partSize', l.partSize, CDC_RANGES.max[0], WIRE_LIMITS.maxPartBytes);
  checkRange('limits.maxPartOps', l.maxPartOps, 1, WIRE_LIMITS.maxPartOps);
  checkRange('limits.maxSignaturesPerBatch', l.maxSignaturesPerBatch, 1, WIRE_LIMITS.maxBatch);
  checkRange('limits.maxPlanOps', l.maxPlanOps, 1, WIRE_LIMITS.maxPlanOps);
  checkRange('limits.sessionTtlSeconds', l.sessionTtlSeconds, 1, YEAR_SECONDS);
  checkRange('limits.maxSessionLifetimeSeconds', l.maxSessionLifetimeSeconds, 1, YEAR_SECONDS);
  checkRange('limits.maxManifestChunks', l.maxManifestChunks, 1, 2 ** 32 - 1);
  checkRange('limits.maxChunkingsPerVersion', l.maxChunkingsPerVersion, 1, 64);
  checkRange('limits.maxStagedBytesPerClient', l.maxStagedBytesPerClient, 0, WIRE_LIMITS.maxOffset);
  checkRange('limits.emptySessionTtlSeconds', l.emptySessionTtlSeconds, 1, YEAR_SECONDS);
  return l;
}

// ---------------------------------------------------------------- request bodies

/** Every binary message starts with a 24-byte header (docs/protocol.md). */
export const HEADER_BYTES = 24;

/** Ranges one multi-range read may ask for (the endpoint's cap, the pull client's packing): a 2 MiB pull request of 4 KiB chunks is 512. */
export const MAX_RANGES = 1024;

/**
 * Longest Range header (and block-digests query) the client sends: 8,000
 * bytes fits the smallest limit of common servers and proxies (nginx's 8 KiB
 * header buffers, Apache's 8,190-byte fields); the Node endpoint takes
 * headers of up to 16 KiB in all (Node's maxHeaderSize), workerd 128 KiB.
 */
export const MAX_RANGE_HEADER_BYTES = 8000;

/**
 * Ranges (and block spans) of one request closer than this many bytes are
 * read from the store as one read, the gap skipped: on R2 every read is a
 * subrequest (Workers Free allows 1,000 per request), and 64 KiB of gap
 * costs less than a read.
 */
export const RANGE_MERGE_GAP = 64 << 10;

/** Separate store reads one multi-range GET or block-digests request may need (ranges farther apart than RANGE_MERGE_GAP). */
export const MAX_RANGE_READS = 64;

/** Largest JSON body (session and commit requests): 64 KiB. */
export const MAX_JSON_BYTES = 64 * 1024;

/**
 * The largest body each route accepts under `limits` (docs/protocol.md,
 * "Body caps"): a part is the header, 12 bytes per op, at most partSize of
 * payload (a client deflates only when smaller) and a CRC; a plan 24 bytes
 * per op; a signature batch 8 bytes per signature (u32 CRC + u32 length).
 */
export function bodyCaps(l: Limits, partSize = l.partSize): { json: number; part: number; plan: number; signatures: number } {
  return {
    json: MAX_JSON_BYTES,
    part: HEADER_BYTES + 12 * l.maxPartOps + partSize + 4,
    plan: HEADER_BYTES + 24 * l.maxPlanOps,
    signatures: HEADER_BYTES + 8 * l.maxSignaturesPerBatch,
  };
}

// ---------------------------------------------------------------- endpoint defaults

/** Defaults of createApp's options (worker/options.ts says what each does). */
export const ENDPOINT_DEFAULTS = {
  /** Open sessions one client may hold. */
  maxSessionsPerClient: 64,
  /** Request bodies held in memory at once: one 8 MiB part and a few signature batches. */
  bodyBudgetBytes: 12 << 20,
  /** Basis manifests kept decoded: 2^20 chunks, ~56 MB at 56 B/chunk. */
  manifestCacheChunks: 1 << 20,
  /** Bytes reads hold in memory at once (block digests: 8 MiB a request at most): four such requests. */
  readBudgetBytes: 32 << 20,
  /** Expired sessions are swept at most once a minute. */
  sweepIntervalMs: 60_000,
} as const;

/** The range a maxSessionsPerClient setting must fall in, on Node and Workers. */
export const MAX_SESSIONS_PER_CLIENT_RANGE = [1, 1_000_000] as const;

// ---------------------------------------------------------------- Cloudflare Workers

/** Cloudflare's request body cap on Free and Pro (100 MB, decimal: the safe reading). */
export const WORKERS_BODY_CAP = 100_000_000;

/**
 * Part size on Workers: 4 MiB. The SDK sends 4 parts at once, and each costs
 * about 3x its size while it lands (the body, the payload when deflated, the
 * pending write), so 4 x 3 x 4 MiB = 48 MiB of a 128 MB isolate.
 */
export const WORKERS_PART_SIZE = 4 << 20;

/** Decoded basis manifests kept per Durable Object: 2^18 chunks (~15 MB at 56 B/chunk; a 1 GiB file at 4 KiB blocks). */
export const WORKERS_MANIFEST_CACHE_CHUNKS = 1 << 18;

// ---------------------------------------------------------------- client

/** Match requests and parts a push has in flight at once (Node). */
export const DEFAULT_CONCURRENCY = 4;

/**
 * Parts in flight in a browser. Two keep the connection busy while the next
 * part's body is framed (a 256 MiB first upload on loopback: 5.8 s with one,
 * 4.3 s with two, 4.3 s with three; docs/benchmarks.md), and bound what a
 * cut connection costs a resume: at most two parts (2 x partSize, 16 MiB at
 * the Node endpoint's default) sent again.
 */
export const BROWSER_PARTS_IN_FLIGHT = 2;

/**
 * The longest answer the client reads unless a request names its own bound
 * (the pull's reads all do): a match answer at the wire format's caps, 2^20
 * signatures x (16 + 4 x 32) bytes, is 151 MB.
 */
export const MAX_ANSWER_BYTES = 160 << 20;

/** Bytes of an error answer the client reads for its message (a JSON error body is a few hundred). */
export const MAX_ERROR_BODY_BYTES = 64 << 10;

/** A request unanswered this long (ms) is abandoned and retried as NETWORK: 5 minutes. */
export const DEFAULT_TIMEOUT_MS = 300_000;
