// Block digests: the BLAKE3 digest prefixes of fixed-size blocks laid over
// some spans of a version, from `GET /v1/blocks/:key` (docs/protocol.md). A
// pull asks for them for the chunks it did not find in the local copy: a
// 4 KiB write dirties a whole chunk (8 KiB on average, up to 64 KiB), and
// the blocks of that chunk the copy still holds need not be fetched (zsync
// does this for the whole file; here only inside the chunks not found).
// The query's form, its parsing and the digests themselves live here, for
// the endpoint and the client alike.
import { DeltaflareError } from '../base/errors.js';
import { MAX_RANGES } from '../base/limits.js';
import type { Kernels } from '../kernels/api.js';
import type { Span } from './byteranges.js';

/** Block sizes a request may ask for (powers of two). */
export const BLOCK_SIZE_RANGE = [256, 65536] as const;
/** Digest prefix bytes a request may ask for. */
export const BLOCK_DIGEST_BYTES_RANGE = [4, 32] as const;
/** Span bytes one request may have hashed: 8 MiB is ~30 ms of BLAKE3 in a Worker. */
export const MAX_BLOCK_SPAN_BYTES = 8 << 20;

/** What `GET /v1/blocks/:key` is asked: the version, the block size, the digest bytes and the spans. */
export interface BlockQuery {
  version: string;
  block: number;
  digestBytes: number;
  spans: Span[];
}

/** Whether `n` is a block size a request may ask for: a power of two in BLOCK_SIZE_RANGE. */
export const isBlockSize = (n: number) => Number.isInteger(n) && n >= BLOCK_SIZE_RANGE[0] && n <= BLOCK_SIZE_RANGE[1] && (n & (n - 1)) === 0;

/** Blocks of `block` bytes laid over `length` bytes from its start (the last may be shorter). */
export const blockCount = (length: number, block: number) => Math.ceil(length / block);

/** The query string of a request (without '?'). @example blockQuery({ version: 'v-1', block: 1024, digestBytes: 8, spans: [{ offset: 0, length: 4096 }] }) */
export function blockQuery(q: BlockQuery): string {
  const spans = q.spans.map((s) => `${s.offset}:${s.length}`).join(',');
  return `version=${encodeURIComponent(q.version)}&block=${q.block}&digest=${q.digestBytes}&spans=${spans}`;
}

const invalid = (what: string) => new DeltaflareError('INVALID_ARGUMENT', what);

/**
 * A request's query checked against the file's `size`: block a power of two
 * in BLOCK_SIZE_RANGE, digest in BLOCK_DIGEST_BYTES_RANGE, 1..MAX_RANGES
 * non-empty spans inside the file, MAX_BLOCK_SPAN_BYTES in all.
 * Throws INVALID_ARGUMENT or TOO_LARGE naming what is wrong.
 */
export function parseBlockQuery(get: (name: string) => string | undefined, size: number): BlockQuery {
  const version = get('version') ?? '';
  if (!version) throw invalid('version is required: the block digests of which version');
  const block = Number(get('block'));
  if (!isBlockSize(block)) {
    throw invalid(`block ${JSON.stringify(get('block')?.slice(0, 20))} is not a power of two in ${BLOCK_SIZE_RANGE.join('..')}`);
  }
  const digestBytes = Number(get('digest'));
  if (!Number.isInteger(digestBytes) || digestBytes < BLOCK_DIGEST_BYTES_RANGE[0] || digestBytes > BLOCK_DIGEST_BYTES_RANGE[1]) {
    throw invalid(`digest ${JSON.stringify(get('digest')?.slice(0, 20))} is not a digest length ${BLOCK_DIGEST_BYTES_RANGE.join('..')}`);
  }
  const text = get('spans') ?? '';
  const items = text ? text.split(',') : [];
  if (items.length === 0) throw invalid('spans is required: offset:length,...');
  if (items.length > MAX_RANGES) throw new DeltaflareError('TOO_LARGE', `${items.length} spans, above the limit ${MAX_RANGES}`);
  let total = 0;
  const spans = items.map((item) => {
    const m = /^(\d{1,16}):(\d{1,16})$/.exec(item);
    const offset = Number(m?.[1]);
    const length = Number(m?.[2]);
    if (!m || length < 1 || offset + length > size) {
      throw invalid(`span ${JSON.stringify(item.slice(0, 40))} is not offset:length with 1 or more bytes inside the ${size}-byte file`);
    }
    total += length;
    return { offset, length };
  });
  if (total > MAX_BLOCK_SPAN_BYTES) throw new DeltaflareError('TOO_LARGE', `spans of ${total} bytes, above the limit ${MAX_BLOCK_SPAN_BYTES}`);
  return { version, block, digestBytes, spans };
}

/**
 * The digest prefixes of the blocks of `bytes` (from its start, the last
 * block shorter if need be), written into `out` from `at`; answers the
 * index after the last.
 */
export function digestBlocks(k: Kernels, bytes: Uint8Array, block: number, digestBytes: number, out: Uint8Array, at = 0): number {
  // One kernel call per 1 MiB of blocks, not one per block (8,192 calls for 8 MiB of 1 KiB blocks).
  for (let start = 0; start < bytes.length; start += DIGEST_WINDOW) {
    const piece = bytes.subarray(start, Math.min(bytes.length, start + DIGEST_WINDOW));
    const ends = Uint32Array.from({ length: Math.ceil(piece.length / block) }, (_, i) => Math.min(piece.length, (i + 1) * block));
    const digests = k.blake3Chunks(piece, ends);
    for (let i = 0; i < ends.length; i++, at += digestBytes) out.set(digests.subarray(32 * i, 32 * i + digestBytes), at);
  }
  return at;
}

/** Bytes hashed per kernel call: a whole number of blocks of any allowed size (at most 64 KiB). */
const DIGEST_WINDOW = 1 << 20;
