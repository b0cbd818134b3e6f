// Pulling a version, runtime-neutral: the version's manifest, the chunks the
// local copy (and an interrupted pull's output) already has found by their
// BLAKE3 digest, the rest fetched in multi-range GETs with several in flight,
// every chunk checked against the manifest before it is written, and the
// output published (renamed over the copy) only when every chunk landed.
// The runtime gives the sources and the output (node/pull.ts: files).
import { decodeMetadataHeader, METADATA_HEADER } from '../../core/protocol/metadata.js';
import { DeltaflareError } from '../../core/base/errors.js';
import { checkOptions } from '../../core/base/options.js';
import { DEFAULT_LIMITS } from '../../core/base/limits.js';
import { init } from '../../core/kernels/index.js';
import { Http, notDeltaflare } from '../http.js';
import type { WorkerPool } from '../pool/pool.js';
import type { Placed, ThreadApi } from '../pool/thread-api.js';
import type { Span } from '../../core/protocol/byteranges.js';
import {
  ClosedGaps,
  chunkAt,
  chunkOfClassAt,
  claimFetches,
  COPY_GROUP,
  copyGroups,
  DUP,
  FETCH,
  FETCHING,
  fetchBatches,
  foundRuns,
  LANDED,
  packSpans,
  planInPlace,
  spansOf,
  ZERO,
} from './plan.js';
import { DigestIndex, zeroChunkClasses } from './digest-index.js';
import { BLOCK_SIZE_RANGE, isBlockSize } from '../../core/protocol/block-digests.js';
import { BlockRefiner } from './blocks.js';
import { checkChunk, RangeFetcher } from './fetch.js';
import { copyInPlace, sourceChanged } from './in-place.js';
import { PULL_OPTIONS, type PullOptions, type PullOutput, type PullProgress, type PullResult } from './options.js';
import { chunkOffsets, decodeShortManifest, type ShortManifest, shortManifestBound } from '../../core/protocol/manifest.js';
import { toHex } from '../../core/protocol/hex.js';
import { signatures } from '../signatures/pass.js';
import type { SyncSource } from '../source.js';

const DEFAULT_REQUEST_BYTES = 2 << 20;
const DEFAULT_BLOCK_SIZE = 1024;

/**
 * Updates `output` from `local` (the current copy, or null) to the key's
 * current version on the endpoint.
 * @example await pull(await fileSource('disk.img'), output, { endpoint, key: 'disk.img', pool })
 */
export async function pull(local: SyncSource | null, open: (size: number) => Promise<PullOutput>, options: PullOptions): Promise<PullResult> {
  checkOptions('pull', options, PULL_OPTIONS);
  const block = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (block !== 0 && !isBlockSize(block)) {
    throw new DeltaflareError('INVALID_ARGUMENT', `blockSize ${block} is not 0 or a power of two in ${BLOCK_SIZE_RANGE.join('..')}`);
  }
  const digestBytes = options.digestBytes ?? 8;
  try {
    return await pullOnce(local, open, options, digestBytes);
  } catch (e) {
    // A prefix collision (or a server lying about prefixes) shows as a root mismatch: once more with whole digests.
    if (!(e instanceof RootMismatch) || digestBytes === 32) throw e;
    return pullOnce(local, open, options, 32);
  }
}

/** The whole file's digests do not give the version's root. */
class RootMismatch extends DeltaflareError {}

async function pullOnce(local: SyncSource | null, open: (size: number) => Promise<PullOutput>, options: PullOptions, digestBytes: number): Promise<PullResult> {
  const started = performance.now();
  let received = 0;
  const http = new Http(options.endpoint, { ...options, onBytes: (_, r) => (received += r) });
  const path = `/v1/manifests/${encodeURIComponent(options.key)}`;
  const k = await init();
  const report = (p: Omit<PullProgress, 'size' | 'rate' | 'eta'>) => {
    if (!options.onProgress) return;
    const size = manifest?.size ?? 0;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? (p.foundBytes + p.fetchedBytes) / seconds : 0;
    options.onProgress({ ...p, size, rate, eta: rate > 0 ? Math.max(0, size - p.foundBytes - p.fetchedBytes) / rate : 0 });
  };
  let manifest: ShortManifest | undefined;
  report({ phase: 'manifest', foundBytes: 0, fetchedBytes: 0 });
  const maxChunks = options.maxChunks ?? DEFAULT_LIMITS.maxManifestChunks;
  const bound = shortManifestBound(maxChunks, digestBytes);
  const answer = await http.get(`${path}?digest=${digestBytes}`, {}, bound).catch((e: DeltaflareError) => {
    if (e.code !== 'MALFORMED') throw e;
    throw new DeltaflareError('MALFORMED', `${e.message.replace(/^deltaflare: /, '')}: a manifest of at most ${maxChunks} chunks (maxChunks) takes ${bound}`);
  });
  try {
    manifest = decodeShortManifest(answer.bytes, { digestBytes, maxChunks });
  } catch (e) {
    const what = (e as Error).message.replace(/^deltaflare: /, '');
    throw /magic|shorter than the/.test(what) ? notDeltaflare(options.endpoint, `GET ${path} answered no manifest (${what})`) : e;
  }
  const version = answer.headers.get('x-deltaflare-version') ?? '';
  if (options.version !== undefined && options.version !== version) {
    throw new DeltaflareError('VERSION_CONFLICT', `${options.key} is at version ${version}, not the version ${options.version} asked for: nothing was changed`);
  }
  const root = answer.headers.get('x-deltaflare-root') ?? '';
  const metadata = decodeMetadataHeader(answer.headers.get(METADATA_HEADER));
  const m = manifest;
  // Every chunk's whole digest, filled as chunks are found or fetched: their BLAKE3 must be the root.
  const whole = new Uint8Array(32 * m.lengths.length);
  const offsets = chunkOffsets(m);
  const n = m.lengths.length;

  // Where each chunk comes from (pull-plan.ts): FETCH, LANDED, FETCHING or an offset in the local copy.
  const from = new Float64Array(n).fill(FETCH);
  const wanted = new DigestIndex(m);
  const output = await open(m.size);
  let found = 0;
  // All-zero chunks: holes of a new output, or written from memory; never read, fetched or placed.
  const zeroClasses = zeroChunkClasses(k, m, wanted);
  let zeroBytes = 0;
  for (const { c, digest } of zeroClasses) {
    for (const i of wanted.members(c)) {
      from[i] = output.zeroed ? LANDED : ZERO;
      whole.set(digest, 32 * i);
      found += m.lengths[i];
      zeroBytes += m.lengths[i];
    }
  }
  // Chunks that repeat one being fetched are written from its bytes when they land (claimFetches).
  const fetchedFirst = new Int32Array(wanted.classes).fill(-1);
  const dupsWritten = new Uint8Array(wanted.classes);
  let dupBytes = 0;
  const writeAt = async (offset: number, bytes: Uint8Array) => {
    await output.writeAt(offset, bytes);
    const dups: Span[] = [];
    for (let i = chunkAt(offsets, offset), at = 0; at < bytes.length; at += m.lengths[i], i++) {
      const c = wanted.classOf[i];
      if (wanted.count[c] === 1 || dupsWritten[c]) continue;
      dupsWritten[c] = 1;
      const chunk = bytes.subarray(at, at + m.lengths[i]);
      for (const j of wanted.members(c)) {
        if (from[j] !== DUP) continue;
        await output.writeAt(offsets[j], chunk);
        whole.copyWithin(32 * j, 32 * i, 32 * i + 32);
        from[j] = LANDED;
        dupBytes += m.lengths[j];
        dups.push({ offset: offsets[j], length: m.lengths[j] });
      }
    }
    if (dups.length) fetchContext.onLanded(dups);
  };
  // Fetches start as soon as the scan closes a gap; the layout is reported once, when the scan ends.
  let layout: NonNullable<PullProgress['layout']> | undefined;
  const early: Span[] = []; // landed before the layout was reported
  const closedSpans: Span[] = []; // every span the scan's closed gaps asked for
  const requestBytes = options.requestBytes ?? DEFAULT_REQUEST_BYTES;
  const fetchContext = {
    http,
    k,
    key: options.key,
    version,
    m,
    offsets,
    whole,
    writeAt,
    concurrency: options.concurrency ?? 4,
    onLanded: (spans: Span[]) => {
      if (!layout) early.push(...spans);
      else report({ phase: 'fetching', foundBytes: foundNow(), fetchedBytes: fetchedNow(), landed: spans.map((sp) => [sp.offset, sp.length]) });
    },
  };
  const fetches = new RangeFetcher(fetchContext);
  // Gaps between found chunks rebuilt from the copy's blocks (not in place: there the copy is the output).
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const blocks =
    local && blockSize > 0 && !output.inPlace
      ? new BlockRefiner({ ...fetchContext, local, block: blockSize, fetchWhole: (spans) => fetches.add(packSpans(spans, requestBytes)) })
      : undefined;
  const foundNow = () => found + (blocks?.local ?? 0);
  const fetchedNow = () => fetches.fetched + (blocks?.fetched ?? 0) + dupBytes;
  try {
    const pool = await options.pool;
    report({ phase: 'scanning', foundBytes: 0, fetchedBytes: 0 });
    const beforeResume = found;
    if (output.resumed) {
      // An interrupted pull's output: a chunk whose digest is the version's chunk at the same offset has landed.
      for await (const b of signatures(output.resumed, { chunking: m.chunking, pool, signal: options.signal })) {
        let at = b.offset;
        for (let j = 0; j < b.lengths.length; j++) {
          const d = b.hashes.subarray(32 * j, 32 * j + 32);
          const i = chunkOfClassAt(wanted, offsets, at, wanted.lookup(d, b.lengths[j]));
          if (i >= 0 && (from[i] === FETCH || from[i] === ZERO)) {
            if (from[i] === FETCH) found += m.lengths[i];
            from[i] = LANDED;
            whole.set(d, 32 * i);
          }
          at += b.lengths[j];
        }
      }
    }
    const resumedBytes = found - beforeResume;

    let placed = 0;
    const onPlaced = ({ indices, digests }: Placed) => {
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j];
        // Landed already (resumed, or placed by another worker), or being fetched (the same bytes): counted once.
        if (from[i] === LANDED || from[i] === FETCHING) continue;
        if (from[i] === FETCH) found += m.lengths[i];
        placed += m.lengths[i];
        from[i] = LANDED;
        whole.set(digests.subarray(32 * j, 32 * j + 32), 32 * i);
      }
    };
    // Nothing left to find (all zeros, or all landed): the local copy is not read.
    const wantsLocal = local !== null && from.includes(FETCH);
    const skip = Int32Array.from(zeroClasses, (z) => z.c);
    const place = wantsLocal && output.path && !output.inPlace ? await startPlacement(pool, output.path, m, skip, onPlaced) : undefined;
    try {
      if (wantsLocal) await scanLocal();
    } finally {
      // Workers keep a placement until dropped: a caller's pool outlives this pull.
      await place?.stop().catch(() => undefined);
    }

    /** Finds the version's chunks in the local copy, in file order; fetches the gaps it closes (not in place: there copies go first). */
    async function scanLocal() {
      const localOf = new Float64Array(n).fill(-1);
      const seen = new Uint8Array(wanted.classes); // classes found: every chunk of one is marked at its first find
      const gaps = new ClosedGaps(localOf);
      let closed: Span[] = [];
      let closedBytes = 0;
      for await (const b of signatures(local!, { chunking: m.chunking, pool, signal: options.signal, place })) {
        fetches.check();
        blocks?.check();
        let at = b.offset;
        for (let j = 0; j < b.lengths.length; at += b.lengths[j], j++) {
          const d = b.hashes.subarray(32 * j, 32 * j + 32);
          const c = wanted.lookup(d, b.lengths[j]);
          if (c < 0) continue;
          if (output.inPlace) {
            // In place, a chunk already where the version wants it needs no copy: prefer it.
            const i = chunkOfClassAt(wanted, offsets, at, c);
            if (i >= 0) {
              if (from[i] === FETCH) found += m.lengths[i];
              from[i] = at;
              whole.set(d, 32 * i);
            }
          }
          if (seen[c]) continue;
          seen[c] = 1;
          for (const i of wanted.members(c)) {
            if (localOf[i] < 0) localOf[i] = at;
            if (from[i] !== FETCH) continue;
            found += m.lengths[i];
            from[i] = at;
            whole.set(d, 32 * i);
          }
        }
        if (!output.inPlace) {
          for (const [start, end] of gaps.take()) {
            // The copy's bytes between the gap's two neighbours (the first gap's start at 0).
            const oldOffset = start === 0 ? 0 : localOf[start - 1] + m.lengths[start - 1];
            const oldLength = localOf[end] - oldOffset;
            if (blocks?.takes(offsets[end] - offsets[start], oldLength) && from.subarray(start, end).every((f) => f === FETCH)) {
              blocks.add({ first: start, end, oldOffset, oldLength }, requestBytes / 4);
              closedSpans.push({ offset: offsets[start], length: offsets[end] - offsets[start] });
              for (let i = start; i < end; i++) from[i] = FETCHING;
              claimFetches(from, wanted, fetchedFirst, start, end);
              continue;
            }
            claimFetches(from, wanted, fetchedFirst, start, end);
            for (const span of spansOf(from, FETCH, start, end, m, offsets, requestBytes)) {
              closed.push(span);
              closedSpans.push(span);
              closedBytes += span.length;
            }
            for (let i = start; i < end; i++) if (from[i] === FETCH) from[i] = FETCHING;
          }
          // Sent in requests of a quarter of requestBytes at least: fewer round trips for scattered small gaps.
          if (closedBytes >= requestBytes / 4) {
            fetches.add(packSpans(closed, requestBytes));
            closed = [];
            closedBytes = 0;
          }
        }
        report({ phase: 'scanning', foundBytes: foundNow(), fetchedBytes: fetchedNow() });
      }
      if (closed.length) fetches.add(packSpans(closed, requestBytes));
    }

    const inPlace = output.inPlace ? planInPlace(from, m, offsets) : null;
    let copied = placed;
    // Copies, checked again as they are read: a local copy edited since the scan is never written out.
    // They run while the fetches wait on the network.
    const copyAll = async () => {
      if (inPlace && output.inPlace) {
        copied = await copyInPlace(k, output, output.inPlace, inPlace, m, offsets, whole, options.key);
        await writeZeros(); // after the copies: they may read what these overwrite
        return;
      }
      await writeZeros();
      if (!local) return;
      for (const group of copyGroups(from, m, offsets)) {
        const bytes = await local.read(group.src, group.length);
        if (bytes.length !== group.length) throw sourceChanged(options.key, group.src);
        for (let i = group.first, at = 0; i < group.end; at += m.lengths[i], i++) {
          if (!checkChunk(k, bytes.subarray(at, at + m.lengths[i]), m, i, whole)) throw sourceChanged(options.key, group.src + at);
        }
        await output.writeAt(offsets[group.first], bytes);
        copied += group.length;
      }
    };
    /** All-zero chunks of an output that is not new: written from one zeroed buffer. */
    const writeZeros = async () => {
      const buffer = new Uint8Array(COPY_GROUP);
      for (const span of spansOf(from, ZERO, 0, n, m, offsets, COPY_GROUP)) {
        for (let at = 0; at < span.length; at += buffer.length) {
          await output.writeAt(span.offset + at, buffer.subarray(0, Math.min(buffer.length, span.length - at)));
        }
      }
    };
    // In place, every copy reads old bytes that a fetched chunk may overwrite: copies first.
    if (inPlace) await copyAll();
    claimFetches(from, wanted, fetchedFirst, 0, n);
    const rest = fetchBatches(from, m, offsets, requestBytes);
    layout = { found: foundRuns(from, offsets), fetch: [...closedSpans, ...rest.flat()].map((sp): [number, number] => [sp.offset, sp.length]) };
    report({ phase: 'fetching', foundBytes: foundNow(), fetchedBytes: fetchedNow(), layout });
    if (early.length) report({ phase: 'fetching', foundBytes: foundNow(), fetchedBytes: fetchedNow(), landed: early.map((sp) => [sp.offset, sp.length]) });
    fetches.add(rest);
    // The block refiner hands the chunks that fail their check to the fetcher: it ends first.
    await Promise.all([inPlace ? Promise.resolve() : copyAll(), blocks?.done().then(() => fetches.done()) ?? fetches.done()]);
    const fetched = fetchedNow();
    const requests = fetches.requests + (blocks?.requests ?? 0);
    if (output.inPlace && m.size < output.inPlace.oldSize) await output.inPlace.resize(m.size);

    if (toHex(k.blake3(whole)) !== root) {
      throw new RootMismatch('CHECKSUM_MISMATCH', `the pulled chunks of ${options.key} do not give the version's root ${root}: nothing was replaced`);
    }
    await output.publish();
    report({ phase: 'done', foundBytes: foundNow(), fetchedBytes: fetched });
    return {
      key: options.key,
      version,
      size: m.size,
      root,
      ...(metadata ? { metadata } : {}),
      chunks: n,
      copiedBytes: copied,
      placedBytes: placed,
      resumedBytes,
      blockBytes: blocks?.local ?? 0,
      fetchedBytes: fetched - dupBytes,
      dupBytes,
      zeroBytes,
      requests,
      bytesReceived: received,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (e) {
    await blocks?.stop(); // before the output closes: no write lands after
    await fetches.stop();
    await output.close().catch(() => undefined);
    throw e;
  }
}

let placements = 0;
/** Sets a placement of `m`'s chunks into `path` on every worker of `pool` (thread-api.ts); `stop` drops it. */
async function startPlacement(pool: WorkerPool<ThreadApi>, path: string, m: ShortManifest, skip: Int32Array, onPlaced: (p: Placed) => void) {
  const id = ++placements;
  const manifest = { lengths: m.lengths, digestBytes: m.digestBytes, digests: m.digests };
  await pool.all((api) => api.setPlacement(id, { path, manifest, skip }));
  return { id, onPlaced, stop: () => pool.all((api) => api.setPlacement(id, null)).then(() => undefined) };
}
