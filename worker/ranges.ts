// Range headers (one range, or several answered in one multipart/byteranges
// body: RFC 9110 14.6), for clients that fetch many chunks at once (pull);
// one spec parser serves both.
// Ranges are sorted and merged first, so the parts never overlap; the body
// is streamed from the store part by part with an exact Content-Length.
// Every delimiter, the first too, starts with CRLF, as nginx and Apache send
// it (zsync reads nothing else).
import { MAX_RANGE_READS, MAX_RANGES, RANGE_MERGE_GAP } from '../core/base/limits.js';
import { DEFLATE_RAW, RANGE_ENCODING_HEADER, sameRead } from '../core/protocol/byteranges.js';
import { deflateRaw } from '../core/protocol/compress.js';
import { ApiError } from './errors.js';
import type { VersionReader } from './store/store.js';

/** A satisfiable byte range, both ends inclusive as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * One `first-last`, `first-` or `-suffix` of a Range header against a file
 * size (RFC 9110 14.1.2): the range, 'invalid' (bad syntax, or last before
 * first: the header is ignored) or 'unsatisfiable' (no byte of the file).
 */
function rangeOf(spec: string, size: number): ByteRange | 'invalid' | 'unsatisfiable' {
  const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return 'invalid';
  if (r[1] === '') {
    const suffix = Number(r[2]);
    return suffix > 0 && size > 0 ? { start: Math.max(0, size - suffix), end: size - 1 } : 'unsatisfiable';
  }
  const start = Number(r[1]);
  if (r[2] !== '' && Number(r[2]) < start) return 'invalid';
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  return { start, end: r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1) };
}

/** 416 for a Range with no byte of the file. */
function unsatisfiable(header: string, size: number): ApiError {
  return new ApiError('INVALID_ARGUMENT', `Range ${JSON.stringify(header)} holds no byte of the ${size}-byte file`, {
    status: 416,
    headers: { 'Content-Range': `bytes */${size}` },
  });
}

/**
 * A Range header of one range: the range, or null to serve the whole file
 * (no header, another unit, several ranges, bad syntax); 416 when no byte of
 * the file is in it.
 * @example parseRange('bytes=0-99', 1000) // { start: 0, end: 99 }
 */
export function parseRange(header: string | null | undefined, size: number): ByteRange | null {
  const m = header ? /^\s*bytes\s*=([^,]*)$/i.exec(header) : null;
  if (!header || !m) return null;
  const r = rangeOf(m[1], size);
  if (r === 'unsatisfiable') throw unsatisfiable(header, size);
  return r === 'invalid' ? null : r;
}

/**
 * The ranges of a `Range: bytes=...` header with two or more ranges, sorted
 * and merged (adjacent or overlapping ranges become one); null when the
 * header has one range or none (parseRange serves those). Ranges past the
 * end are dropped; none left is 416.
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
    const r = rangeOf(spec, size);
    if (r === 'invalid') return null; // bad syntax: the whole file (RFC 9110)
    if (r !== 'unsatisfiable') ranges.push(r);
  }
  if (ranges.length === 0) throw unsatisfiable(header.slice(0, 100), size);
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
 * Sorted, disjoint ranges grouped into the store reads that serve them:
 * neighbours less than RANGE_MERGE_GAP apart share one read (the gap read
 * and skipped). More than MAX_RANGE_READS reads is 416 naming the limit: on
 * R2 each read is a subrequest, which a Worker has a bounded number of.
 */
export function readClusters(ranges: ByteRange[], header: string): ByteRange[][] {
  const clusters: ByteRange[][] = [];
  for (const r of ranges) {
    const last = clusters[clusters.length - 1];
    if (last && sameRead(last[last.length - 1].end + 1, r.start)) last.push(r);
    else clusters.push([r]);
  }
  if (clusters.length > MAX_RANGE_READS) {
    throw new ApiError(
      'INVALID_ARGUMENT',
      `Range ${JSON.stringify(header.slice(0, 60))}... has ${ranges.length} ranges in ${clusters.length} places more than ${RANGE_MERGE_GAP} bytes apart, above the limit ${MAX_RANGE_READS}: ask for them in several requests`,
      { status: 416 },
    );
  }
  return clusters;
}

/**
 * A 206 multipart/byteranges answer of `clusters` (readClusters) of a
 * version, one store read per cluster (a single merged range is answered
 * as a plain 206).
 */
export function multipartResponse(version: VersionReader, clusters: ByteRange[][], headers: Record<string, string>): Response {
  const { info } = version;
  const ranges = clusters.flat();
  const boundary = `deltaflare-${info.id.slice(-16)}-${ranges.length}`;
  const heads = ranges.map((r) =>
    enc.encode(`\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${r.start}-${r.end}/${info.size}\r\n\r\n`),
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const length = heads.reduce((n, h, i) => n + h.length + ranges[i].end - ranges[i].start + 1, tail.length);
  let cursor: ByteCursor | undefined;
  let canceled = false;
  async function* parts(): AsyncGenerator<Uint8Array> {
    let i = 0;
    for (const cluster of clusters) {
      const start = cluster[0].start;
      cursor = new ByteCursor(await version.read(start, cluster[cluster.length - 1].end - start + 1));
      // Canceled while the read was opening: closed here, or its file stays open until garbage collection.
      if (canceled) return await cursor.cancel();
      let at = start;
      for (const r of cluster) {
        await cursor.skip(r.start - at);
        yield heads[i++];
        for (let left = r.end - r.start + 1; left > 0; ) {
          const piece = await cursor.take(left);
          left -= piece.length;
          yield piece;
        }
        at = r.end + 1;
      }
      await cursor.finish();
    }
    yield tail;
  }
  const it = parts();
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      const { done, value } = await it.next();
      if (done) c.close();
      else c.enqueue(value);
    },
    async cancel(reason) {
      canceled = true;
      await cursor?.cancel(reason);
    },
  });
  return new Response(body, {
    status: 206,
    headers: { ...headers, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': String(length) },
  });
}

/** Bytes of a ranged answer deflated to decide whether deflating it pays. */
const DEFLATE_SAMPLE = 64 << 10;
/** Deflating pays when the sample shrinks to at most this share of its size. */
const DEFLATE_PAYS = 0.9;

/**
 * `res` (a 206) deflated when a sample of its body (its first 64 KiB) deflates
 * to at most 90%: then without Content-Length, with RANGE_ENCODING_HEADER
 * (byteranges.ts). Else the same bytes as they were (random or already
 * compressed data costs one 64 KiB deflate). Streams either way.
 */
export async function deflateWhenItPays(res: Response): Promise<Response> {
  const reader = res.body!.getReader();
  const head: Uint8Array[] = [];
  let sampled = 0;
  while (sampled < DEFLATE_SAMPLE) {
    const { done, value } = await reader.read();
    if (done) break;
    head.push(value);
    sampled += value.length;
  }
  const sample = new Uint8Array(sampled);
  for (let i = 0, at = 0; i < head.length; at += head[i].length, i++) sample.set(head[i], at);
  const pays = sampled > 0 && (await deflateRaw(sample)).length <= DEFLATE_PAYS * sampled;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const piece of head) c.enqueue(piece);
    },
    async pull(c) {
      const { done, value } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const headers = new Headers(res.headers);
  headers.append('Vary', RANGE_ENCODING_HEADER);
  if (!pays) return new Response(body, { status: res.status, headers });
  headers.delete('Content-Length');
  headers.set(RANGE_ENCODING_HEADER, DEFLATE_RAW);
  const deflate = new CompressionStream(DEFLATE_RAW) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  return new Response(body.pipeThrough(deflate), { status: res.status, headers });
}

/** Takes and skips bytes of a stream, piece by piece. */
class ByteCursor {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private piece: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  /** Up to `max` bytes (at least one); the stream ending early is an error. */
  async take(max: number): Promise<Uint8Array> {
    if (this.piece.length === 0) {
      const { done, value } = await this.reader.read();
      if (done) throw new Error('deltaflare: a store read ended before its length');
      this.piece = value;
    }
    const out = this.piece.subarray(0, max);
    this.piece = this.piece.subarray(out.length);
    return out;
  }

  async skip(n: number): Promise<void> {
    for (let left = n; left > 0; ) left -= (await this.take(left)).length;
  }

  /** Reads the stream to its end (canceling a store read that ended is logged by workerd as a cut pump); more bytes is an error. */
  async finish(): Promise<void> {
    if (this.piece.length > 0 || !(await this.reader.read()).done) throw new Error('deltaflare: a store read ran past its length');
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.reader.cancel(reason).catch(() => undefined);
  }
}
