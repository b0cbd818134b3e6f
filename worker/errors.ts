// The endpoint's one error class and the one place errors become HTTP
// answers: `{ "error": { "code", "message" } }` with the status of
// PROTOCOL_ERRORS (core/protocol/messages.ts). SDK errors (DeltaflareError,
// from the codecs and the plan checks) and store errors (StoreError) are
// mapped here too, so no route picks a status by itself.
import { DeltaflareError } from '../core/base/errors.js';
import { PROTOCOL_ERRORS, type ErrorBody, type ProtocolErrorCode } from '../core/protocol/messages.js';
import { StoreError } from './store/store.js';

/**
 * An error with a protocol code; its status comes from PROTOCOL_ERRORS.
 *
 * @example
 * throw new ApiError('TOO_LARGE', `body of ${n} bytes is above the limit ${limit}`);
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    readonly options: {
      /** The error this one explains (logged, never sent). */
      cause?: unknown;
      /** The HTTP status, when not the code's own (a hook's 4xx). */
      status?: number;
      /** Headers of the answer (e.g. Retry-After). */
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message, { cause: options.cause });
  }

  /** The HTTP status of `code`, unless the thrower names a more precise one (416 for an unsatisfiable Range). */
  get status(): number {
    return this.options.status ?? PROTOCOL_ERRORS[this.code];
  }
}

/** SDK codes that are not protocol codes answer as these. */
const SDK_TO_PROTOCOL: Record<string, ProtocolErrorCode> = {
  NOT_INITIALIZED: 'INTERNAL',
  KERNELS_UNAVAILABLE: 'INTERNAL',
};

/** The code, status and message an error answers as. Unknown errors are INTERNAL with a generic message (the cause goes to `log`). */
export function describeError(e: unknown, log: (e: unknown) => void = console.error): { code: ProtocolErrorCode; status: number; message: string } {
  if (e instanceof ApiError) return { code: e.code, status: e.status, message: e.message };
  if (e instanceof StoreError) {
    if (e.code !== 'IO') return { code: e.protocolCode, status: e.status, message: e.message };
    // An IO error names server paths: the detail goes to the log only.
    log(e);
    const message = e.status === 507 ? 'the server is out of storage (see the server log)' : 'the store failed (see the server log)';
    return { code: e.protocolCode, status: e.status, message };
  }
  if (e instanceof DeltaflareError) {
    const code = (e.code in PROTOCOL_ERRORS ? e.code : (SDK_TO_PROTOCOL[e.code] ?? 'INTERNAL')) as ProtocolErrorCode;
    if (code === 'INTERNAL') log(e);
    return { code, status: PROTOCOL_ERRORS[code], message: e.message };
  }
  log(e);
  return { code: 'INTERNAL', status: 500, message: 'internal error (see the server log)' };
}

/**
 * The JSON answer for any error; the code is also in an `X-Deltaflare-Error`
 * header, since the answer to a HEAD request has no body.
 * @example app.onError((e) => errorResponse(e))
 */
export function errorResponse(e: unknown, log?: (e: unknown) => void): Response {
  const { code, status, message } = describeError(e, log);
  const body: ErrorBody = { error: { code, message } };
  const retry = e instanceof StoreError ? e.options?.retryAfterS : undefined;
  const headers = { ...(e instanceof ApiError ? e.options.headers : {}), ...(retry ? { 'Retry-After': String(retry) } : {}), 'X-Deltaflare-Error': code };
  return Response.json(body, { status, headers });
}
