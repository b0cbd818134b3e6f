// Request bodies, read with a size cap before anything parses them: the
// Content-Length is checked first (a declared 10 GB body is refused without
// reading a byte), then the stream is counted as it arrives (a lying or
// chunked body is cut off at the cap). Web APIs only, so the same code runs
// under Node and workerd.
import { MAX_JSON_BYTES } from '../core/base/limits.js';
import { ApiError } from './errors.js';

/**
 * The whole body of `req`, at most `limit` bytes, else 413 TOO_LARGE naming
 * `what` and the limit. With `into`, a body whose Content-Length fits is read
 * into it (a pooled buffer, core/base/buffer-pool.ts) instead of a new one.
 * @example const bytes = await readBody(c.req.raw, 24 + 8 * limits.maxSignaturesPerBatch, 'signature batch')
 */
export async function readBody(req: Request, limit: number, what: string, into?: Uint8Array): Promise<Uint8Array> {
  const expected = declaredLength(req, limit, what);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const sink = new BodySink(expected, into);
  for (;;) {
    const { done, value } = await readPiece(reader, what, sink.total);
    if (done) break;
    await checkNext(reader, sink.total, value.length, limit, what);
    sink.add(value);
  }
  return sink.bytes();
}

/** The next piece of a body; a connection lost mid-body is MALFORMED (a client's doing, not the server's: not logged as INTERNAL). */
export async function readPiece(reader: ReadableStreamDefaultReader<Uint8Array>, what: string, total: number): Promise<ReadableStreamReadResult<Uint8Array>> {
  try {
    return await reader.read();
  } catch (e) {
    throw new ApiError('MALFORMED', `${what}: the body was cut off after ${total} bytes (${(e as Error).message})`, { cause: e });
  }
}

/** The Content-Length of `req` (-1 when absent); MALFORMED if it is no byte count, TOO_LARGE above `limit`, before a byte is read. */
export function declaredLength(req: Request, limit: number, what: string): number {
  const declared = req.headers.get('content-length');
  if (declared === null) return -1;
  const n = Number(declared);
  if (!/^\d+$/.test(declared.trim()) || !Number.isSafeInteger(n))
    throw new ApiError('MALFORMED', `Content-Length ${JSON.stringify(declared)} is not a byte count`);
  if (n > limit) throw tooLarge(what, n, limit);
  return n;
}

/** Cancels the body and throws TOO_LARGE if `more` bytes after `total` pass `limit` (a lying or chunked body is cut off there). */
export async function checkNext(reader: ReadableStreamDefaultReader<Uint8Array>, total: number, more: number, limit: number, what: string): Promise<void> {
  if (total + more <= limit) return;
  await reader.cancel().catch(() => undefined);
  throw tooLarge(what, total + more, limit, true);
}

/**
 * A body gathered in memory as it arrives. With a Content-Length it is
 * copied into one buffer (`into` when large enough): keeping the ~64 KiB
 * pieces and joining them at the end held every body twice (an 8 MiB part
 * peaked at 16 MiB, four parts at once at 64 MiB).
 */
export class BodySink {
  private out: Uint8Array | null;
  private readonly pieces: Uint8Array[] = [];
  total = 0;

  constructor(expected: number, into?: Uint8Array) {
    this.out = expected < 0 ? null : into && expected <= into.length ? into.subarray(0, expected) : new Uint8Array(expected);
  }

  add(value: Uint8Array): void {
    if (this.out && this.total + value.length <= this.out.length) this.out.set(value, this.total);
    else {
      // Longer than declared: the runtime will refuse it, but never trust the header.
      if (this.out) {
        this.pieces.push(this.out.subarray(0, this.total));
        this.out = null;
      }
      this.pieces.push(value);
    }
    this.total += value.length;
  }

  /** The bytes so far (a view of the buffer, or the pieces joined). */
  bytes(): Uint8Array {
    if (this.out) return this.total === this.out.length ? this.out : this.out.subarray(0, this.total);
    if (this.pieces.length === 1) return this.pieces[0];
    const joined = new Uint8Array(this.total);
    let at = 0;
    for (const p of this.pieces) {
      joined.set(p, at);
      at += p.length;
    }
    return joined;
  }
}

/** A JSON object body (at most MAX_JSON_BYTES), or MALFORMED. */
export async function readJson(req: Request, what: string): Promise<Record<string, unknown>> {
  // A page on another site may POST text/plain without asking first (a "simple" request); not application/json.
  const type = req.headers.get('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError('INVALID_ARGUMENT', `${what}: Content-Type must be application/json, not ${JSON.stringify(type)}`, { status: 415 });
  }
  const bytes = await readBody(req, MAX_JSON_BYTES, what);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch (e) {
    throw new ApiError('MALFORMED', `${what}: not valid UTF-8 JSON`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError('MALFORMED', `${what}: not a JSON object`);
  return value as Record<string, unknown>;
}

function tooLarge(what: string, n: number, limit: number, streamed = false): ApiError {
  return new ApiError('TOO_LARGE', `${what}: body of ${streamed ? 'more than ' : ''}${streamed ? limit : n} bytes is above the limit ${limit}`);
}

/** A JSON field that must be a string (INVALID_ARGUMENT naming it). */
export function jsonString(v: unknown, name: string): string {
  if (typeof v !== 'string') throw new ApiError('INVALID_ARGUMENT', `${name} must be a string`);
  return v;
}

/** A JSON field that must be true or false. */
export function jsonBool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new ApiError('INVALID_ARGUMENT', `${name} must be true or false`);
  return v;
}

/** A JSON field that must be an integer in lo..hi. */
export function jsonInt(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ApiError('INVALID_ARGUMENT', `${name} must be an integer, got ${JSON.stringify(v)}`);
  if (v < lo || v > hi) throw new ApiError('INVALID_ARGUMENT', `${name} ${v} is outside ${lo}..${hi}`);
  return v;
}
