// `GET /v1/blocks/:key`: the digest prefixes of fixed-size blocks over some
// spans of the current version (core/protocol/block-digests.ts), so a pull
// fetches only the blocks of a changed chunk that its local copy lacks.
// The version is looked up once; spans less than RANGE_MERGE_GAP apart are
// read together (one store read: on R2 a subrequest), at most
// MAX_RANGE_READS reads. The spans' bytes (at most MAX_BLOCK_SPAN_BYTES, and
// the gaps between them) are held within the endpoint's read budget: a
// request over it waits, then is refused with 503 BUSY.
import { MAX_RANGE_READS } from '../core/base/limits.js';
import type { Kernels } from '../core/kernels/api.js';
import { type Span, sameRead } from '../core/protocol/byteranges.js';
import { blockCount, digestBlocks, parseBlockQuery } from '../core/protocol/block-digests.js';
import { ApiError } from './errors.js';
import { openCurrent } from './files.js';
import type { ReadBudget } from './read-budget.js';
import type { Store } from './store/store.js';

/** The answer: per span in the order asked, ceil(length / block) digest prefixes; the version in X-Deltaflare-Version. */
export async function getBlockDigests(
  store: Store,
  kernels: Kernels,
  budget: ReadBudget,
  key: string,
  query: (name: string) => string | undefined,
): Promise<Response> {
  const version = await openCurrent(store, key);
  const { info } = version;
  const q = parseBlockQuery(query, info.size);
  if (q.version !== info.id) throw new ApiError('VERSION_CONFLICT', `${JSON.stringify(key)} is at version ${info.id}, not ${q.version}`);
  const reads = spanReads(q.spans);
  const held = reads.reduce((n, r) => n + r.length, 0);
  return budget.run(held, `block digests of ${held} bytes`, async () => {
    const out = new Uint8Array(q.spans.reduce((n, s) => n + blockCount(s.length, q.block), 0) * q.digestBytes);
    let at = 0;
    for (const read of reads) {
      // A commit since the look-up makes this read CONFLICT (409): the client's version is gone.
      const bytes = new Uint8Array(await new Response(await version.read(read.offset, read.length)).arrayBuffer());
      for (const s of read.spans)
        at = digestBlocks(kernels, bytes.subarray(s.offset - read.offset, s.offset - read.offset + s.length), q.block, q.digestBytes, out, at);
    }
    return new Response(out, { headers: { 'Content-Type': 'application/octet-stream', 'X-Deltaflare-Version': info.id } });
  });
}

/** Spans grouped in the order asked into store reads (sameRead: a span just after the previous one joins its read). */
function spanReads(spans: Span[]): Array<Span & { spans: Span[] }> {
  const reads: Array<Span & { spans: Span[] }> = [];
  for (const s of spans) {
    const last = reads[reads.length - 1];
    if (last && sameRead(last.offset + last.length, s.offset)) {
      last.length = s.offset + s.length - last.offset;
      last.spans.push(s);
    } else reads.push({ offset: s.offset, length: s.length, spans: [s] });
  }
  if (reads.length > MAX_RANGE_READS) {
    throw new ApiError('INVALID_ARGUMENT', `${spans.length} spans in ${reads.length} places, above the limit ${MAX_RANGE_READS}: ask in several requests`);
  }
  return reads;
}
