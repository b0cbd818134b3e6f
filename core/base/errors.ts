/**
 * The SDK's one error class. `code` says what went wrong in a word a program
 * can branch on; the message names the offending value and the limit it broke.
 *
 * @example
 * try { chunk(bytes, { min: 10 }) } catch (e) {
 *   if (e instanceof DeltaflareError && e.code === 'INVALID_ARGUMENT') console.error(e.message);
 *   else throw e;
 * }
 */
export class DeltaflareError extends Error {
  override readonly name = 'DeltaflareError';
  /** The HTTP status, when the error is an endpoint's answer. */
  readonly status?: number;

  constructor(
    readonly code: DeltaflareErrorCode,
    message: string,
    options?: {
      /** The error this one explains (a network error, a store's...). */
      cause?: unknown;
      /** The HTTP status, when the error is an endpoint's answer. */
      status?: number;
    },
  ) {
    super(`deltaflare: ${message}`, options);
    this.status = options?.status;
  }
}

export type DeltaflareErrorCode =
  /** An argument is outside its documented range or of the wrong type. */
  | 'INVALID_ARGUMENT'
  /** A kernel function was called before `init()` resolved. */
  | 'NOT_INITIALIZED'
  /** The wasm kernels could not be loaded in this runtime. */
  | 'KERNELS_UNAVAILABLE'
  /** A protocol message is truncated, inconsistent or out of range (see docs/protocol.md). */
  | 'MALFORMED'
  /** A protocol message has a version this build does not speak. */
  | 'UNSUPPORTED_VERSION'
  /** A sync plan does not tile the new file, reads outside the basis, or breaks an ordering rule. */
  | 'INVALID_PLAN'
  /** A part's CRC32 does not match its bytes (corrupted in transit): send it again. */
  | 'CHECKSUM_MISMATCH'
  /** The endpoint could not be reached, or the connection broke. */
  | 'NETWORK'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** The file changed while a push ran or was paused: nothing was committed. */
  | 'SOURCE_CHANGED'
  /** Endpoint answers (docs/protocol.md): the code of its JSON error body. */
  | 'NOT_FOUND'
  | 'SESSION_EXPIRED'
  | 'VERSION_CONFLICT'
  | 'PART_CONFLICT'
  | 'INCOMPLETE'
  | 'TOO_LARGE'
  /** The client holds the endpoint's maximum of open sessions (429): commit or abort one first. */
  | 'TOO_MANY_SESSIONS'
  | 'ROOT_MISMATCH'
  /** The endpoint's read budget is full (503, with Retry-After): ask again later; retried by default. */
  | 'BUSY'
  /** The server's disk cannot hold the file beside the uploads already open (507). */
  | 'INSUFFICIENT_STORAGE'
  /** No token, or not the endpoint's (401): pass `token` (CLI: --token or DELTAFLARE_TOKEN). */
  | 'UNAUTHORIZED'
  /** An upload token for another key, altered, or past its expiry (403). */
  | 'FORBIDDEN'
  | 'INTERNAL';

/** Throws INVALID_ARGUMENT unless `lo <= value <= hi`, naming the limit. */
export function checkRange(name: string, value: number, lo: number, hi: number): void {
  if (!Number.isInteger(value)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `${name} must be an integer, got ${value}`);
  }
  if (value < lo) throw new DeltaflareError('INVALID_ARGUMENT', `${name} ${value} is below the minimum ${lo}`);
  if (value > hi) throw new DeltaflareError('INVALID_ARGUMENT', `${name} ${value} is above the maximum ${hi}`);
}
