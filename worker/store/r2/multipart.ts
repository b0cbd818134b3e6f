// Reading extents as bytes: a stream of ranged R2 reads (and zeros) for a
// version's reads, one array for a staging area's readAt, and R2 multipart
// parts for a compaction. R2 wants every
// part but the last of one size, 5 MiB .. 5 GiB, at most 10,000 parts, and a
// body of known length; the Workers binding has no UploadPartCopy. So a part
// is assembled as a stream: ranged reads of the objects its extents point to
// (the old version, or pieces of uploaded literal bytes) and zeros for gaps,
// piped one after another into a FixedLengthStream that uploadPart consumes.
// Nothing of the part is held in memory beyond the streams' own buffers.
import { StoreError } from '../store.js';
import type { Extent } from './db.js';

/** R2's smallest part but the last (5 MiB). */
export const MIN_PART = 5 << 20;
/** R2's most parts per upload. */
export const MAX_PARTS = 10_000;
/** Zeros are written in pieces of at most 1 MiB. */
const ZERO_PIECE = 1 << 20;

/**
 * The multipart part size for a file: 5 MiB, or the smallest whole MiB that
 * keeps the file within 10,000 parts (a 100 GiB file gets 11 MiB parts).
 * @example partSizeFor(64 << 20) === 5 << 20
 */
export function partSizeFor(size: number): number {
  return Math.max(MIN_PART, Math.ceil(size / MAX_PARTS / (1 << 20)) * (1 << 20));
}

/** A piece of a part: bytes of `obj` at `off`, or zeros when `obj` is null. */
export interface Segment {
  len: number;
  obj: string | null;
  off: number;
}

/** The segments of `[start, end)` from ascending, non-overlapping extents; runs contiguous in one object merge into one read. */
export function segments(extents: readonly Extent[], start: number, end: number): Segment[] {
  const out: Segment[] = [];
  const push = (s: Segment) => {
    const last = out[out.length - 1];
    if (last && last.obj === s.obj && (s.obj === null || last.off + last.len === s.off)) last.len += s.len;
    else out.push(s);
  };
  let at = start;
  for (const e of extents) {
    if (e.obj === '') continue; // zeros: a gap
    const a = Math.max(start, e.dst);
    const b = Math.min(end, e.dst + e.len);
    if (b <= a) continue;
    if (a > at) push({ len: a - at, obj: null, off: 0 });
    push({ len: b - a, obj: e.obj, off: e.off + (a - e.dst) });
    at = b;
  }
  if (end > at) push({ len: end - at, obj: null, off: 0 });
  return out;
}

/** Writes the segments into `writable` in order (ranged R2 reads piped through, zeros written), then closes it. */
export async function writeSegments(bucket: R2Bucket, segs: readonly Segment[], writable: WritableStream<Uint8Array>, signal?: AbortSignal): Promise<void> {
  try {
    for (const s of segs) {
      signal?.throwIfAborted();
      if (s.obj === null) {
        const w = writable.getWriter();
        for (let left = s.len; left > 0; left -= ZERO_PIECE) await w.write(new Uint8Array(Math.min(ZERO_PIECE, left)));
        w.releaseLock();
        continue;
      }
      const got = await bucket.get(s.obj, { range: { offset: s.off, length: s.len } });
      if (!got) throw gone(s.obj);
      await got.body.pipeTo(writable, { preventClose: true, signal });
    }
    await writable.close();
  } catch (e) {
    await writable.abort(e).catch(() => undefined);
    throw e;
  }
}

/**
 * The segments' bytes as one stream: each object range read in turn, the
 * next one requested while the current one streams (R2's first-byte latency
 * hidden behind the bytes, so a version of many extents reads about as fast
 * as one flat object), zeros for gaps. At most two reads are open at once.
 */
export function streamSegments(bucket: R2Bucket, segs: readonly Segment[]): ReadableStream<Uint8Array> {
  const open = (s: Segment | undefined) => {
    if (!s || s.obj === null) return undefined;
    const p = bucket.get(s.obj, { range: { offset: s.off, length: s.len } });
    p.catch(() => undefined); // awaited in turn; a read ahead of a canceled stream must not surface as unhandled
    return p;
  };
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  void (async () => {
    let next = open(segs[0]);
    try {
      for (let i = 0; i < segs.length; i++) {
        const s = segs[i];
        const current = next;
        next = open(segs[i + 1]);
        if (s.obj === null) {
          const w = writable.getWriter();
          for (let left = s.len; left > 0; left -= ZERO_PIECE) await w.write(new Uint8Array(Math.min(ZERO_PIECE, left)));
          w.releaseLock();
          continue;
        }
        const got = await current!;
        if (!got) throw gone(s.obj);
        await got.body.pipeTo(writable, { preventClose: true });
      }
      await writable.close();
    } catch (e) {
      await writable.abort(e).catch(() => undefined);
      void (await next?.catch(() => null))?.body.cancel();
    }
  })();
  return readable;
}

/**
 * Puts `obj` of `length` bytes from a stream `fill` writes (R2 needs a known
 * length: a FixedLengthStream). If either side fails, the other is stopped
 * and the first error thrown: a writer left waiting on a stream nobody reads
 * would hold its memory and any R2 read feeding it.
 */
export async function putStreamed(
  bucket: R2Bucket,
  obj: string,
  length: number,
  fill: (writable: WritableStream<Uint8Array>, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const { readable, writable } = new FixedLengthStream(length);
  const stop = new AbortController();
  const filled = fill(writable, stop.signal);
  filled.catch(() => undefined);
  let put: Promise<unknown>;
  try {
    put = bucket.put(obj, readable);
  } catch (e) {
    put = Promise.reject(e);
  }
  put.catch((e) => {
    stop.abort(e);
    void writable.abort(e).catch(() => undefined);
  });
  await Promise.all([put, filled]);
}

/** Uploads one part (1-based `number`) of `upload` assembled from `segs`; answers its ETag record. */
export async function uploadSegments(bucket: R2Bucket, upload: R2MultipartUpload, number: number, segs: readonly Segment[]): Promise<R2UploadedPart> {
  const length = segs.reduce((n, s) => n + s.len, 0);
  const { readable, writable } = new FixedLengthStream(length);
  // If the upload fails, stop the writer too: a pipe left waiting on a stream nobody reads would hold its R2 read (and a connection slot) forever.
  const stop = new AbortController();
  const up = upload.uploadPart(number, readable);
  up.catch((e) => stop.abort(e));
  const [part] = await Promise.all([up, writeSegments(bucket, segs, writable, stop.signal)]);
  return part;
}

/** Reads `[start, end)` of the segments into one array (at most MAX_READ = 16 MiB; staging readAt). */
export async function readSegments(bucket: R2Bucket, segs: readonly Segment[]): Promise<Uint8Array> {
  const out = new Uint8Array(segs.reduce((n, s) => n + s.len, 0));
  let at = 0;
  await Promise.all(
    segs.map(async (s) => {
      const to = at;
      at += s.len;
      if (s.obj === null) return;
      const got = await bucket.get(s.obj, { range: { offset: s.off, length: s.len } });
      if (!got) throw gone(s.obj);
      out.set(new Uint8Array(await got.arrayBuffer()), to);
    }),
  );
  return out;
}

/** A source object deleted under a reader or staging area: its version was replaced more than an hour ago, or deleted. */
function gone(obj: string): StoreError {
  return new StoreError('CONFLICT', `R2 object ${obj} is gone: the version it belonged to was replaced or deleted more than an hour ago; read or start again`);
}
