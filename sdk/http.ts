// The client's one way to talk to an endpoint: fetch with retries. Endpoint
// errors become DeltaflareError with the code of their JSON body; network
// failures and 5xx are retried with exponential backoff, 4xx are not (the
// same request would fail again), except those a predicate allows.
import { DEFAULT_TIMEOUT_MS, MAX_ANSWER_BYTES, MAX_ERROR_BODY_BYTES } from '../core/base/limits.js';
import { DeltaflareError, type DeltaflareErrorCode } from '../core/base/errors.js';
import { concatBytes } from '../core/protocol/bytes.js';
import { PROTOCOL_VERSION } from '../core/protocol/messages.js';

export interface RetryOptions {
  /** Attempts after the first (default 4). */
  retries?: number;
  /** Delay before retry n (0-based), ms (default 250 * 2^n, at most 8 s). */
  delay?: (attempt: number) => number;
  /** Whether an error is worth another try (default: NETWORK, INTERNAL, CHECKSUM_MISMATCH, 5xx). */
  shouldRetry?: (error: DeltaflareError) => boolean;
}

export interface HttpOptions {
  /** The fetch to use (default the global one): for a proxy agent, tracing or tests. */
  fetch?: typeof fetch;
  /** Aborts every request (ABORTED). */
  signal?: AbortSignal;
  /** Retries of failed requests (default 4, with backoff from 250 ms; NETWORK, INTERNAL, 5xx and BUSY). */
  retry?: RetryOptions;
  /** Bearer token for writes. */
  token?: string;
  /**
   * An attempt that has not been answered in full within this many ms is
   * abandoned as a NETWORK error and retried (default 300,000 = 5 min: an
   * 8 MiB part needs ~0.25 Mbit/s to make it). 0 waits forever. A server
   * that stops answering otherwise holds a push until the connection dies.
   */
  timeoutMs?: number;
  /** Counts bytes of request and response bodies (for progress and reports). */
  onBytes?: (sent: number, received: number) => void;
  /**
   * Sends byte bodies of 1 MiB or more as a stream over the caller's array,
   * with its Content-Length, instead of handing fetch the array: Node's
   * fetch (undici) copies an array body, 8 MiB more per part in flight,
   * freed only at the next GC. Needs a fetch that streams request bodies
   * over HTTP/1.1 (Node's does; browsers only over HTTP/2), so push() on
   * Node turns it on. The array must stay unchanged until the request ends.
   */
  streamBodies?: boolean;
}

/**
 * A request body: text, bytes, or a Blob (a browser sends slices of a picked
 * File as one, and fetch streams them from disk).
 */
export type Body = string | Uint8Array | Blob;

/** Bodies from this size on are streamed when HttpOptions.streamBodies is set (1 MiB). */
const STREAM_MIN = 1 << 20;

/** A stream of `bytes` in 1 MiB views (no copy), pulled as the connection takes them. */
function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (at >= bytes.length) return c.close();
        c.enqueue(bytes.subarray(at, at + STREAM_MIN));
        at += STREAM_MIN;
      },
    },
    { highWaterMark: 0 },
  );
}

const RETRYABLE = new Set<DeltaflareErrorCode>(['NETWORK', 'INTERNAL', 'CHECKSUM_MISMATCH']);
const defaultShouldRetry = (e: DeltaflareError) => RETRYABLE.has(e.code) || (e.status ?? 0) >= 500;
const defaultDelay = (attempt: number) => Math.min(8000, 250 * 2 ** attempt);
export { DEFAULT_TIMEOUT_MS };

/** One endpoint, with its options. */
export class Http {
  constructor(
    readonly base: string,
    private readonly options: HttpOptions = {},
  ) {
    checkEndpoint(base);
  }

  /** Sends a request (retried per the options) and returns the response body as bytes. */
  async bytes(method: string, path: string, body?: Body, type?: string): Promise<Uint8Array> {
    return (await this.request(method, path, { body, type })).bytes;
  }

  /**
   * A GET with extra request headers (e.g. Range), answering the body and the
   * response headers; retried per the options. An answer longer than
   * `maxBytes` (default MAX_ANSWER_BYTES) is MALFORMED as soon as it says so
   * or reaches it: a server cannot make the client hold more than asked for.
   */
  async get(path: string, headers: Record<string, string> = {}, maxBytes = MAX_ANSWER_BYTES): Promise<{ bytes: Uint8Array; headers: Headers; status: number }> {
    return this.request('GET', path, { headers, maxBytes });
  }

  private async request(
    method: string,
    path: string,
    req: { body?: Body; type?: string; headers?: Record<string, string>; maxBytes?: number },
  ): Promise<{ bytes: Uint8Array; headers: Headers; status: number }> {
    const { retries = 4, delay = defaultDelay, shouldRetry = defaultShouldRetry } = this.options.retry ?? {};
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(method, path, req.body, req.type, req.headers, req.maxBytes ?? MAX_ANSWER_BYTES);
      } catch (e) {
        const error = e as DeltaflareError;
        if (error.code === 'ABORTED' || attempt >= retries || !shouldRetry(error)) throw error;
        await sleep(Math.max(delay(attempt), retryAfterMs(error)), this.options.signal);
      }
    }
  }

  /** A JSON request and answer; an answer that is not JSON is MALFORMED naming the endpoint (not a deltaflare endpoint). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.bytes(method, path, body === undefined ? undefined : JSON.stringify(body), 'application/json');
    const text = new TextDecoder().decode(answer);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw notDeltaflare(this.base, `${method} ${path} answered ${JSON.stringify(text.slice(0, 40))}, not JSON`);
    }
  }

  private async once(
    method: string,
    path: string,
    body?: Body,
    type?: string,
    extra: Record<string, string> = {},
    maxBytes = MAX_ANSWER_BYTES,
  ): Promise<{ bytes: Uint8Array; headers: Headers; status: number }> {
    const { signal, token, timeoutMs = DEFAULT_TIMEOUT_MS } = this.options;
    const doFetch = this.options.fetch ?? fetch;
    if (signal?.aborted) throw aborted(signal);
    const headers: Record<string, string> = { ...extra };
    if (type && body !== undefined) headers['content-type'] = type;
    if (token) headers.authorization = `Bearer ${token}`;
    const stream = this.options.streamBodies === true && body instanceof Uint8Array && body.length >= STREAM_MIN;
    if (stream) headers['content-length'] = String(body.length);
    const timer = timeoutMs > 0 ? new AbortController() : undefined;
    const timeout = timer && setTimeout(() => timer.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    // The request's own socket keeps a Node process alive while it is open; this timer must not (a process whose
    // work is done must not wait up to timeoutMs for it). Browsers return a number here.
    (timeout as { unref?: () => void } | undefined)?.unref?.();
    const attempt = timer ? (signal ? AbortSignal.any([signal, timer.signal]) : timer.signal) : signal;
    // The caller's abort is ABORTED; the timer's is a NETWORK error, retried like a lost connection.
    const failed = (cause: unknown, what: string) => {
      if (signal?.aborted) return aborted(signal);
      if (timer?.signal.aborted) return new DeltaflareError('NETWORK', `${method} ${path}: no answer within ${timeoutMs} ms (timeoutMs)`, { cause });
      return new DeltaflareError('NETWORK', `${method} ${path}: ${what}`, { cause });
    };
    const url = endpointUrl(this.base, path);
    let response: Response;
    let answer: Uint8Array;
    try {
      try {
        // No HTTP cache: nothing the endpoint answers is read twice, and Chromium's cache restarted ranged GETs
        // over a slow link, fetching parts of them twice (3-5 MB more per 8 MiB pulled: docs/benchmarks.md).
        const init: RequestInit & { duplex?: 'half' } = stream
          ? { method, body: bytesStream(body), duplex: 'half', headers, signal: attempt, cache: 'no-store' }
          : { method, body: body as BodyInit | undefined, headers, signal: attempt, cache: 'no-store' };
        response = await doFetch(url, init);
      } catch (cause) {
        throw failed(cause, `${(cause as Error).message} (${url.host}${causeOf(cause)})`);
      }
      try {
        // An error's body is read for its message only: its first MAX_ERROR_BODY_BYTES.
        answer = await readBody(response, response.ok ? maxBytes : MAX_ERROR_BODY_BYTES, !response.ok, `${method} ${path}`);
      } catch (cause) {
        if (cause instanceof DeltaflareError) throw cause;
        throw failed(cause, 'connection lost reading the answer');
      }
    } finally {
      clearTimeout(timeout);
    }
    const sent = typeof body === 'string' ? new TextEncoder().encode(body).length : body instanceof Uint8Array ? body.length : (body?.size ?? 0);
    this.options.onBytes?.(sent, answer.length);
    if (response.ok) return { bytes: answer, headers: response.headers, status: response.status };
    const error = endpointError(method, path, response.status, answer);
    const after = Number(response.headers.get('retry-after'));
    if (after > 0) retryAfter.set(error, Math.min(after, 60) * 1000);
    throw error;
  }
}

/**
 * The body of `response`, at most `max` bytes: beyond that it is cut
 * (`truncate`) or refused as MALFORMED, from its Content-Length before
 * anything is read, or as soon as the bytes received pass it.
 */
async function readBody(response: Response, max: number, truncate: boolean, what: string): Promise<Uint8Array> {
  const tooLong = (n: string) =>
    new DeltaflareError('MALFORMED', `${what}: the answer is ${n} bytes, over the ${max} expected: not a deltaflare endpoint, or a proxy that changed it`);
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (!truncate && declared > max && !response.headers.get('content-encoding')) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLong(String(declared));
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const pieces: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.length > max) {
      await reader.cancel().catch(() => undefined);
      if (!truncate) throw tooLong(`more than ${total + value.length}`);
      pieces.push(value.subarray(0, max - total));
      total = max;
      break;
    }
    pieces.push(value);
    total += value.length;
  }
  return concatBytes(pieces);
}

/** The wait an endpoint asked for with Retry-After (seconds, at most 60), by error. */
const retryAfter = new WeakMap<DeltaflareError, number>();
const retryAfterMs = (e: DeltaflareError) => retryAfter.get(e) ?? 0;

function endpointError(method: string, path: string, status: number, body: Uint8Array): DeltaflareError {
  let code: DeltaflareErrorCode = status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
  // A deltaflare endpoint answers every error with a JSON body: without one, something else answered.
  let message = `HTTP ${status} without deltaflare's JSON error body (a proxy, or not a deltaflare endpoint?)`;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { error?: { code?: string; message?: string } };
    if (parsed.error?.code) code = parsed.error.code as DeltaflareErrorCode;
    if (parsed.error?.message) message = parsed.error.message;
  } catch {
    // not a JSON error body (a proxy's page, say): keep the status
  }
  return new DeltaflareError(code, `${method} ${path}: ${message} (${status})`, { status });
}

function aborted(signal: AbortSignal): DeltaflareError {
  return new DeltaflareError('ABORTED', `aborted: ${signal.reason ?? 'by the caller'}`, { cause: signal.reason });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(aborted(signal));
      },
      { once: true },
    );
  });
}

/** INVALID_ARGUMENT unless `endpoint` is an http(s) URL. */
export function checkEndpoint(endpoint: unknown): void {
  let url: URL | undefined;
  try {
    url = new URL(String(endpoint));
  } catch {
    // not a URL
  }
  if (typeof endpoint !== 'string' || !url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new DeltaflareError('INVALID_ARGUMENT', `endpoint ${JSON.stringify(endpoint)} is not an http:// or https:// URL (e.g. http://127.0.0.1:19876)`);
  }
}

/**
 * Asks the endpoint's GET /v1/info (retried as any request): a server that
 * answers with no deltaflare info is MALFORMED naming it, before any file
 * is read.
 */
export async function probeEndpoint(http: Http): Promise<void> {
  const info = await http.json<{ protocol?: unknown }>('GET', '/v1/info');
  if (info?.protocol !== PROTOCOL_VERSION) {
    throw notDeltaflare(http.base, `GET /v1/info answered ${JSON.stringify(info).slice(0, 60)}, not protocol ${PROTOCOL_VERSION}`);
  }
}

/** MALFORMED: what answered at `endpoint` is not a deltaflare endpoint. */
export function notDeltaflare(endpoint: string, what: string): DeltaflareError {
  return new DeltaflareError('MALFORMED', `${endpoint} is not a deltaflare endpoint: ${what} (its GET /v1/info names the protocol)`);
}

/**
 * `path` (e.g. "/v1/sessions") under the endpoint's URL, keeping its path:
 * an endpoint mounted at "http://host/sync" is asked "http://host/sync/v1/...".
 * @example endpointUrl('http://h/sync/', '/v1/info').href === 'http://h/sync/v1/info'
 */
export function endpointUrl(base: string, path: string): URL {
  const url = new URL(base);
  const q = path.indexOf('?');
  url.pathname = url.pathname.replace(/\/+$/, '') + (q < 0 ? path : path.slice(0, q));
  url.search = q < 0 ? '' : path.slice(q);
  url.hash = '';
  return url;
}

/** The low-level reason fetch gives for a failed connection (Node: ECONNREFUSED, ENOTFOUND, ...), as ": CODE". */
function causeOf(e: unknown): string {
  const inner = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = inner?.code ?? inner?.message;
  return why ? `: ${why}` : '';
}
