// A pull's fetches: batches of spans of the version, each one multi-range
// GET, up to `concurrency` in flight, every chunk checked against the
// manifest before it is written. Batches can be added while others are in
// flight (the scan adds the gaps it closes, sdk/pull/pull.ts); done() waits for
// all and throws the first failure.
import { DeltaflareError } from '../../core/base/errors.js';
import { Lanes } from '../../core/base/lanes.js';
import type { Http } from '../http.js';
import type { Kernels } from '../../core/kernels/api.js';
import { byteRangeParts, DEFLATE_RAW, RANGE_ENCODING_HEADER, rangedBodyBound, rangeHeader, type Span } from '../../core/protocol/byteranges.js';
import { inflateRawAtMost } from '../../core/protocol/compress.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';
import { hasPrefix } from './digest-index.js';
import { chunkAt } from './plan.js';

export interface FetchContext {
  http: Http;
  k: Kernels;
  key: string;
  /** The version pulled: an answer from another version is refused. */
  version: string;
  m: ShortManifest;
  offsets: Float64Array;
  /** Whole digests of the version's chunks, filled as they are checked. */
  whole: Uint8Array;
  writeAt(offset: number, bytes: Uint8Array): Promise<void>;
  concurrency: number;
  /** Called with the spans of each answered batch once they are written. */
  onLanded(spans: Span[]): void;
}

export class RangeFetcher {
  /** Ranged GETs answered. */
  requests = 0;
  /** Chunk bytes fetched, checked and written. */
  fetched = 0;
  private readonly lanes: Lanes;

  constructor(private readonly c: FetchContext) {
    this.lanes = new Lanes(c.concurrency);
  }

  /** Queues `batches`, one ranged GET each. */
  add(batches: Span[][]): void {
    for (const spans of batches) this.lanes.add(() => this.fetch(spans));
  }

  /** Throws the first failure, if a fetch failed (the scan checks it between batches). */
  check(): void {
    this.lanes.check();
  }

  /** Waits for every queued batch; throws the first failure. */
  done(): Promise<void> {
    return this.lanes.done();
  }

  /** Drops what is queued and waits for the requests in flight (after a failure elsewhere, before the output closes). */
  stop(): Promise<void> {
    return this.lanes.stop();
  }

  private async fetch(spans: Span[]): Promise<void> {
    const { k, key, m, offsets, whole } = this.c;
    const bytesOf = await getRanges(this.c, spans);
    this.requests++;
    for (const span of spans) {
      const bytes = bytesOf(span);
      for (let i = chunkAt(offsets, span.offset), at = 0; at < span.length; at += m.lengths[i], i++) {
        if (!checkChunk(k, bytes.subarray(at, at + m.lengths[i]), m, i, whole)) {
          throw new DeltaflareError(
            'CHECKSUM_MISMATCH',
            `chunk ${i} of ${key} (bytes ${offsets[i]}..${offsets[i + 1]}) does not match the manifest: nothing was replaced`,
          );
        }
      }
      await this.c.writeAt(span.offset, bytes);
      this.fetched += span.length;
    }
    this.c.onLanded(spans);
  }
}

/**
 * One multi-range GET of `spans` of the version (deflated when the endpoint
 * finds it pays): answers each span's bytes. VERSION_CONFLICT if the key
 * moved on, MALFORMED if a span is missing from the answer.
 */
export async function getRanges(c: Pick<FetchContext, 'http' | 'key' | 'version'>, spans: Span[]): Promise<(span: Span) => Uint8Array> {
  const { http, key } = c;
  // At most the spans with their framing (deflate-raw's stored blocks add 5 bytes per 64 KiB when it does not pay).
  const bound = rangedBodyBound(spans);
  const got = await http.get(
    `/v1/files/${encodeURIComponent(key)}`,
    { range: rangeHeader(spans), [RANGE_ENCODING_HEADER]: DEFLATE_RAW },
    bound + (bound >> 10) + 1024,
  );
  if (got.status !== 206) {
    throw new DeltaflareError('MALFORMED', `the endpoint answered ${got.status}, not 206, to a ranged GET of ${key}: a server or proxy that ignores Range`);
  }
  // Inflated within what the spans can take with their framing: a deflate bomb stops there.
  const body = got.headers.get(RANGE_ENCODING_HEADER) === DEFLATE_RAW ? await inflateRawAtMost(got.bytes, bound, `the ranged answer for ${key}`) : got.bytes;
  checkVersion(got.headers, c);
  const parts = byteRangeParts(got.headers.get('content-type'), got.headers.get('content-range'), body);
  return (span) => {
    const part = parts.find((p) => p.offset <= span.offset && span.offset + span.length <= p.offset + p.bytes.length);
    if (!part) throw new DeltaflareError('MALFORMED', `the answer for ${key} lacks bytes ${span.offset}..${span.offset + span.length}`);
    return part.bytes.subarray(span.offset - part.offset, span.offset - part.offset + span.length);
  };
}

/** VERSION_CONFLICT unless an answer's X-Deltaflare-Version is the version pulled. */
export function checkVersion(headers: Headers, c: Pick<FetchContext, 'key' | 'version'>): void {
  const now = headers.get('x-deltaflare-version');
  if (now !== c.version) throw new DeltaflareError('VERSION_CONFLICT', `${c.key} changed during the pull (now ${now}, was ${c.version}): pull again`);
}

/** Whether `bytes` are chunk i (its length, its digest prefix); keeps their whole digest in `whole`. */
export function checkChunk(k: Kernels, bytes: Uint8Array, m: ShortManifest, i: number, whole: Uint8Array): boolean {
  if (bytes.length !== m.lengths[i]) return false;
  const d = k.blake3(bytes);
  if (!hasPrefix(d, m.digests, m.digestBytes * i, m.digestBytes)) return false;
  whole.set(d, 32 * i);
  return true;
}
