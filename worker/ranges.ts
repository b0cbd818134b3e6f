// Several byte ranges of one version in one answer (RFC 9110 14.6,
// multipart/byteranges), for clients that fetch many chunks at once (pull).
// Ranges are sorted and merged first, so the parts never overlap; the body
// is streamed from the store part by part with an exact Content-Length.
// Every delimiter, the first too, starts with CRLF, as nginx and Apache send
// it (zsync reads nothing else).
import { ApiError } from './errors.js';
import type { Store, VersionInfo } from './store/store.js';

/** A satisfiable byte range, both ends inclusive as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** Ranges one request may ask for: a 2 MiB pull request of 4 KiB chunks is 512. */
export const MAX_RANGES = 1024;

/**
 * The ranges of a `Range: bytes=...` header with two or more ranges, sorted
 * and merged (adjacent or overlapping ranges become one); null when the
 * header has one range or none (files.ts parseRange serves those). Ranges
 * past the end are dropped; none left is 416.
 */
export function parseRanges(header: string | null | undefined, size: number): ByteRange[] | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!m) return null;
  const specs = m[1].split(',');
  if (specs.length < 2) return null;
  if (specs.length > MAX_RANGES) throw new ApiError('TOO_LARGE', `Range has ${specs.length} ranges, above the limit ${MAX_RANGES}`);
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return null; // bad syntax: the whole file (RFC 9110)
    if (r[1] === '') {
      const n = Number(r[2]);
      if (n > 0 && size > 0) ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(r[1]);
    const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
    if (r[2] !== '' && Number(r[2]) < start) return null;
    if (start < size) ranges.push({ start, end });
  }
  if (ranges.length === 0) {
    throw new ApiError('INVALID_ARGUMENT', `Range ${JSON.stringify(header.slice(0, 100))} holds no byte of the ${size}-byte file`, {
      status: 416,
      headers: { 'Content-Range': `bytes */${size}` },
    });
  }
  ranges.sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [ranges[0]];
  for (const r of ranges.slice(1)) {
    const last = merged[merged.length - 1];
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

const enc = new TextEncoder();

/**
 * A 206 multipart/byteranges answer of `ranges` of `key` at `info`'s
 * version (a single merged range is answered as a plain 206).
 */
export function multipartResponse(store: Store, key: string, info: VersionInfo, ranges: ByteRange[], headers: Record<string, string>): Response {
  const boundary = `deltaflare-${info.id.slice(-16)}-${ranges.length}`;
  const heads = ranges.map((r) =>
    enc.encode(`\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${r.start}-${r.end}/${info.size}\r\n\r\n`),
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const length = heads.reduce((n, h, i) => n + h.length + ranges[i].end - ranges[i].start + 1, tail.length);
  let i = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (reader) {
          const { done, value } = await reader.read();
          if (!done) return c.enqueue(value);
          reader = undefined;
          i++;
        }
        if (i === ranges.length) {
          c.enqueue(tail);
          return c.close();
        }
        const r = ranges[i];
        c.enqueue(heads[i]);
        reader = (await store.read(key, { version: info.id, offset: r.start, length: r.end - r.start + 1 })).body.getReader();
        return;
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
  return new Response(body, {
    status: 206,
    headers: { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': String(length) },
  });
}
