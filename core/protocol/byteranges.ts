// The client's side of multi-range reads (RFC 9110 14.6): the Range header
// for a list of spans, and the parts of a `multipart/byteranges` answer (or
// of a plain 206 when the server merged them into one range). Parts are
// located by their Content-Range, never by searching the data for the
// boundary, so no byte of a file can break the framing.
import { DeltaflareError } from '../base/errors.js';
import { RANGE_MERGE_GAP } from '../base/limits.js';

/** A span of a file: `length` bytes from `offset`. */
export interface Span {
  offset: number;
  length: number;
}

/**
 * Deflated ranged answers: a client that can inflate sends this header with
 * the value DEFLATE_RAW; the endpoint answers with the same header when it
 * deflated the body (the whole 206 body, multipart framing included), which
 * it does only when a sample of the body deflates well enough to pay. Not
 * Content-Encoding: a coded 206 would make the ranges those of the coded
 * bytes (RFC 9110 8.4), and proxies and fetch would decode it on their own.
 */
export const RANGE_ENCODING_HEADER = 'X-Deltaflare-Encoding';
export const DEFLATE_RAW = 'deflate-raw';

/**
 * Whether a range starting at `start` is served by the same store read as
 * the one before it, which ends (exclusive) at `end`: it follows it, less
 * than RANGE_MERGE_GAP on. The endpoint groups its reads by this rule and
 * the client packs its requests by it, so they count reads alike.
 */
export function sameRead(end: number, start: number): boolean {
  return start >= end && start - end < RANGE_MERGE_GAP;
}

/** At most the bytes of a 206 body for `spans`: their bytes and each part's delimiter and headers (well under 256 bytes). */
export function rangedBodyBound(spans: readonly Span[]): number {
  return spans.reduce((n, s) => n + s.length + 256, 256);
}

/** `bytes=a-b,c-d,...` for spans (non-empty). @example rangeHeader([{ offset: 0, length: 10 }]) === 'bytes=0-9' */
export function rangeHeader(spans: readonly Span[]): string {
  return `bytes=${spans.map((s) => `${s.offset}-${s.offset + s.length - 1}`).join(',')}`;
}

const malformed = (what: string) => new DeltaflareError('MALFORMED', `ranged answer: ${what}`);
const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i;

/**
 * The parts of a 206 answer as (offset, bytes) views into `body`.
 * @example for (const p of byteRangeParts(res.headers.get('content-type'), res.headers.get('content-range'), body)) write(p.offset, p.bytes)
 */
export function byteRangeParts(contentType: string | null, contentRange: string | null, body: Uint8Array): { offset: number; bytes: Uint8Array }[] {
  const boundary = /^multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
  if (!boundary) {
    const m = CONTENT_RANGE.exec(contentRange ?? '');
    if (!m) throw malformed(`no Content-Range (${JSON.stringify(contentRange)}) on a single range`);
    const offset = Number(m[1]);
    if (Number(m[2]) - offset + 1 !== body.length) throw malformed(`Content-Range ${contentRange} for ${body.length} bytes`);
    return [{ offset, bytes: body }];
  }
  const parts: { offset: number; bytes: Uint8Array }[] = [];
  const text = new TextDecoder('latin1');
  const delimiter = `--${boundary}`;
  let at = 0;
  for (;;) {
    // Each part: [CRLF] --boundary CRLF headers CRLF CRLF data; the end: [CRLF] --boundary-- .
    const headEnd = indexOf(body, CRLFCRLF, at, at + 4096);
    const closing = text.decode(body.subarray(at, Math.min(body.length, at + delimiter.length + 6)));
    if (closing.replace(/^\r\n/, '').startsWith(`${delimiter}--`)) return parts;
    if (headEnd < 0) throw malformed(`a part's headers do not end within 4 KiB at byte ${at}`);
    const head = text.decode(body.subarray(at, headEnd)).replace(/^\r\n/, '');
    const lines = head.split('\r\n');
    if (lines[0] !== delimiter) throw malformed(`expected the boundary at byte ${at}`);
    const range = lines.find((l) => /^content-range:/i.test(l))?.replace(/^content-range:\s*/i, '');
    const m = CONTENT_RANGE.exec(range ?? '');
    if (!m) throw malformed(`a part without a Content-Range at byte ${at}`);
    const offset = Number(m[1]);
    const length = Number(m[2]) - offset + 1;
    const start = headEnd + 4;
    if (length < 1 || start + length > body.length) throw malformed(`part ${range} runs past the answer's ${body.length} bytes`);
    parts.push({ offset, bytes: body.subarray(start, start + length) });
    at = start + length;
  }
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10]);

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number, to: number): number {
  const end = Math.min(hay.length - needle.length, to);
  outer: for (let i = from; i <= end; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
