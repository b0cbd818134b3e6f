// `GET /v1/blocks/:key`: the digest prefixes of fixed-size blocks over some
// spans of the current version (sdk/protocol/block-digests.ts), so a pull
// fetches only the blocks of a changed chunk that its local copy lacks.
// Each span is read from the store and hashed in turn; the spans are at most
// MAX_BLOCK_SPAN_BYTES in all.
import type { Kernels } from '../sdk/kernels/api.js';
import { blockCount, digestBlocks, parseBlockQuery } from '../sdk/protocol/block-digests.js';
import { ApiError } from './errors.js';
import { currentVersion } from './files.js';
import type { Store } from './store/store.js';

/** The answer: per span in the order asked, ceil(length / block) digest prefixes; the version in X-Deltaflare-Version. */
export async function getBlockDigests(store: Store, kernels: Kernels, key: string, query: (name: string) => string | undefined): Promise<Response> {
  const info = await currentVersion(store, key);
  const q = parseBlockQuery(query, info.size);
  if (q.version !== info.id) throw new ApiError('VERSION_CONFLICT', `${JSON.stringify(key)} is at version ${info.id}, not ${q.version}`);
  const out = new Uint8Array(q.spans.reduce((n, s) => n + blockCount(s.length, q.block), 0) * q.digestBytes);
  let at = 0;
  for (const span of q.spans) {
    // A commit since the head makes this read CONFLICT (409): the client's version is gone.
    at = digestBlocks(kernels, await store.readRange(key, info.id, span.offset, span.length), q.block, q.digestBytes, out, at);
  }
  return new Response(out, { headers: { 'Content-Type': 'application/octet-stream', 'X-Deltaflare-Version': info.id } });
}
