// sync(): push a new version of a file to an endpoint, sending only what
// changed. The orchestrator of the client; each step lives in its own module:
//
//   signatures (signatures.ts, in a worker pool) --batches--> match requests (streamed,
//   several in flight, while chunking goes on) --> confirmation (protocol/match.ts) -->
//   plan (protocol/plan.ts, chunk by chunk) --> parts as they fill (part-body.ts), then
//   the plan message and the remaining parts (several in flight) --> commit
//
// Progress (progress.ts) is reported throughout.
//
// Parts go as soon as the planner closes them, while later segments are still
// being chunked and matched: a 100 MiB push with 8 MiB inserted in the middle
// over 100 Mbit/s and 35 ms RTT started its 8 MiB part at ~280 ms (after the
// pass, the plan and the plan's round trip), now at ~205 ms, its answers'
// round trips being what it waits for (docs/protocol.md, "Parts before the plan").
//
// Runtime-neutral: the caller brings the worker pool (node/index.ts and the
// browser entry make one) and the source (a file, a Blob, bytes).
import { checkMetadata, type Metadata } from '../../core/protocol/metadata.js';
import { DEFAULT_CONCURRENCY, DEFAULT_LIMITS, type Limits } from '../../core/base/limits.js';
import { ChunkTable } from '../signatures/chunk-table.js';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { DeltaflareError } from '../../core/base/errors.js';
import { Http, probeEndpoint, type RetryOptions } from '../http.js';
import { init } from '../../core/kernels/index.js';
import type { WorkerPool } from '../pool/pool.js';
import type { ThreadApi } from '../pool/thread-api.js';
import { type ChunkingSpec, chunkingFor } from '../../core/protocol/chunking.js';
import { confirmMatches } from '../../core/protocol/match.js';
import type { BasisInfo, CommitRequest, CreateSessionResponse, FileInfo, SessionStatus } from '../../core/protocol/messages.js';
import { type PartPlan, plan, type PlanOptions, Planner } from './plan.js';
import { decodeMatches, encodePlan, encodeSignatures } from '../../core/protocol/wire.js';
import { BufferPool } from '../../core/base/buffer-pool.js';
import { partBody } from './part-body.js';
import { ProgressReporter, type SyncProgress } from './progress.js';
import { Resumer, type ResumeStore } from './resume.js';
import { signatures } from '../signatures/pass.js';
import { type SyncSource, sourceChangedError } from '../source.js';
import { toHex } from '../../core/protocol/hex.js';
import { Semaphore } from '../../core/base/semaphore.js';
import { stage } from '../trace.js';

export type { SyncPhase, SyncProgress } from './progress.js';

/** Where each byte of the new file comes from, once planned: for drawing the file (the demo's strip). */
export interface SyncLayout {
  size: number;
  /** [offset, length] ranges found in the basis (copies) or repeated within the file (dups). */
  matched: Array<[number, number]>;
  /**
   * The literal ranges of each part, and whether the part had landed before
   * onPlan: in an earlier run (resumed), or sent while the signature pass ran
   * (onPart was called for those already).
   */
  parts: Array<{ part: number; ranges: Array<[number, number]>; landed: boolean }>;
}

export interface SyncOptions {
  /** The endpoint's base URL, e.g. http://127.0.0.1:19876 */
  endpoint: string;
  /** Where the new version goes. */
  key: string;
  /** The stored file to diff against: default the key itself; another key; null for none. */
  basis?: string | null;
  /** How the file is cut (default: FastCDC-2020 with 2/8/64 KiB chunks, scaled up past 8 GiB; `{ kind: 'fixed', block }` for disk images). */
  chunking?: ChunkingSpec;
  /**
   * The pool that runs the signature pass. A promise is awaited only when
   * the pass starts, so a pool still starting (~100-300 ms for worker threads
   * loading the kernels) overlaps the session request.
   */
  pool: WorkerPool<ThreadApi> | Promise<WorkerPool<ThreadApi>>;
  /** Rebuild inside the stored file, with no second copy on the server. */
  inPlace?: boolean;
  /** Match requests (and, unless partConcurrency says otherwise, parts) in flight at once (default 4). */
  concurrency?: number;
  /**
   * Parts in flight at once (default: `concurrency`). A connection cut loses
   * the parts in flight, so 1 bounds what a resume re-sends to one part; the
   * browser entry uses 1 for that reason.
   */
  partConcurrency?: number;
  /** Bytes read and scanned per worker task (default 8 MiB). */
  segmentSize?: number;
  /** Aborts the push (ABORTED); with `resume`, what landed stays for the next call. */
  signal?: AbortSignal;
  /** Called at most every 100 ms and at each phase change: bytes hashed, matched, sent, rate and ETA. */
  onProgress?: (progress: SyncProgress) => void;
  /** Retries of failed requests (default 4, with backoff from 250 ms; NETWORK, INTERNAL, 5xx and BUSY). */
  retry?: RetryOptions;
  /** Per request attempt: unanswered after this many ms, it is retried as a lost connection (default 5 min; 0 never). */
  timeoutMs?: number;
  /** Part bodies go as streams, not copied by fetch (HttpOptions.streamBodies; push() on Node sets it). */
  streamBodies?: boolean;
  /** The endpoint's write token (or an upload token for this key), sent as a Bearer token. */
  token?: string;
  /** The fetch to use (default the global one): for a proxy agent, tracing or tests. */
  fetch?: typeof fetch;
  /**
   * Makes the push resumable: the session, the matches and the file's
   * signature are kept here (by endpoint and key, checked against a
   * fingerprint of the source), so a push interrupted by a lost connection,
   * a closed tab or a restarted server sends only the parts that had not
   * landed, and an unchanged file is not hashed again. See resume.ts.
   */
  resume?: ResumeStore;
  /** The source's file handle, kept with the resume record (ResumeRecord.handle) so a reload can reopen the file. */
  fileHandle?: unknown;
  /** Called once the plan is known (and after a resume), with where every byte comes from. */
  onPlan?: (layout: SyncLayout) => void;
  /** Called as each part lands on the server; parts that fill while hashing land before onPlan. */
  onPart?: (part: number) => void;
  /**
   * String pairs stored with the new version (tus's Upload-Metadata): returned
   * by HEAD and GET of the file, listings, pull() and the endpoint's hooks. At
   * most 32 pairs and 1,024 bytes as JSON; names of [A-Za-z0-9._-].
   */
  metadata?: Metadata;
}

/** The version a push committed, and what it cost. */
export interface SyncResult extends FileInfo {
  /** Chunks of the new version. */
  chunks: number;
  /** Bytes copied on the endpoint from its stored version (not sent). */
  matchedBytes: number;
  /** Bytes of the file that were not found there: sent, or already landed by the session resumed. */
  literalBytes: number;
  /** All bytes sent over HTTP, bodies only (signatures, plan, parts after compression). */
  bytesSent: number;
  /** All bytes received over HTTP, bodies only. */
  bytesReceived: number;
  /** Wall time of the push, hashing included. */
  seconds: number;
}

/** What SyncSource.changed() tells: the file is not what it was when opened. */
const CHANGED_HOW = 'written, truncated, grown or replaced';

/** Every option of `sync`, checked when it is called (core/base/options.ts). */
export const SYNC_OPTIONS: OptionKeys<SyncOptions> = {
  endpoint: true,
  key: true,
  basis: true,
  chunking: true,
  pool: true,
  inPlace: true,
  concurrency: true,
  partConcurrency: true,
  segmentSize: true,
  signal: true,
  onProgress: true,
  retry: true,
  timeoutMs: true,
  streamBodies: true,
  token: true,
  fetch: true,
  resume: true,
  fileHandle: true,
  onPlan: true,
  onPart: true,
  metadata: true,
};

/** Pushes `source` to `options.key` on the endpoint and returns the new version. */
export async function sync(source: SyncSource, options: SyncOptions): Promise<SyncResult> {
  checkOptions('sync', options, SYNC_OPTIONS, { workers: 'pool (push() and the browser sync() take workers)', meta: 'metadata' });
  const metadata = options.metadata === undefined ? undefined : checkMetadata(options.metadata, 'sync metadata');
  const started = performance.now();
  const k = await init();
  const chunking = options.chunking ?? chunkingFor(source.size, DEFAULT_LIMITS.maxManifestChunks);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const progress = new ProgressReporter(source.size, options.onProgress);
  // Ends what is still running or queued (other parts' uploads, their retries) once the push has failed.
  const failed = new AbortController();
  const http = new Http(options.endpoint, {
    fetch: options.fetch,
    signal: options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    streamBodies: options.streamBodies,
    token: options.token,
    onBytes: (sent, received) => progress.transferred(sent, received),
  });

  // Before any byte is hashed: a URL that is not deltaflare's says so now, not after the pass.
  const probe = probeEndpoint(http);
  probe.catch(() => {}); // awaited below
  const inPlace = options.inPlace ?? false;
  // Parts in flight at once, early (sent while hashing) and later ones alike:
  // each holds one part body (at most partSize) in memory.
  const partSlots = new Semaphore(options.partConcurrency ?? concurrency);
  // Part bodies reused from part to part: as many as parts go at once.
  const bodies = new BufferPool(options.partConcurrency ?? concurrency);
  /** Parts sent while the signature pass ran, by number: their uploads. */
  const early = new Map<number, Promise<void>>();
  /** Parts that landed in this run, and their literal bytes. */
  const landedNow = new Set<number>();
  let landedNowBytes = 0;
  const resumer = options.resume
    ? await Resumer.open(options.resume, { endpoint: options.endpoint, key: options.key, source, k, http, handle: options.fileHandle })
    : undefined;
  try {
    await probe;
    const reused = await resumer?.session({ size: source.size, chunking, inPlace, metadata });
    const cached = resumer?.signature(chunking);
    const table = new ChunkTable();
    let session: SessionFacts;
    let status: SessionStatus | undefined;
    let planner: Planner | undefined;
    if (reused && !reused.stored.pass) {
      // A session resumed after its signature pass: the signature and the
      // confirmed matches come from the store, so the plan below is the one
      // the server already has.
      ({ status } = reused);
      session = { id: reused.stored.id, basis: status.basis, partSize: reused.stored.partSize, limits: reused.stored.limits };
      table.append({ firstIndex: 0, ...cached! });
      table.oldOffsets.set(reused.stored.oldOffsets);
      progress.cachedSignature(source.size);
    } else {
      let opened: Promise<SessionFacts>;
      if (reused) {
        // A session cut during its signature pass: the pass runs again (or
        // comes from the store) and sends the batches it had sent again.
        ({ status } = reused);
        const { stored } = reused;
        opened = Promise.resolve({ id: stored.id, basis: status.basis, partSize: stored.partSize, limits: stored.limits, expiresAt: stored.expiresAt });
      } else {
        // The signature pass does not need the session: it starts at once and
        // its batches wait for the session. The server may spend the request
        // building the basis' manifest (a hand-placed file: ~0.5 s for 100 MiB).
        const sessionDone = stage('session');
        const created = http.json<CreateSessionResponse>('POST', '/v1/sessions', {
          key: options.key,
          basis: options.basis,
          size: source.size,
          chunking,
          inPlace,
          ...(metadata ? { metadata } : {}),
        });
        created.then(sessionDone, () => {});
        // Recorded before any batch or part goes, so a push cut from then on resumes this session.
        opened = created.then(async (s) => {
          await resumer?.saveSession({
            id: s.id,
            basisVersion: s.basis?.version ?? null,
            inPlace,
            oldOffsets: new Float64Array(0),
            pass: { batches: [] },
            partSize: s.partSize,
            limits: s.limits,
            ...(metadata ? { metadata } : {}),
            literalBytes: 0,
            landedBytes: 0,
            expiresAt: s.expiresAt ?? '',
          });
          return s;
        });
      }
      opened.catch(() => {}); // surfaced by matchAll
      // A copy: the record's list grows as new batches go.
      const replay = [...(reused?.stored.pass?.batches ?? [])];
      planner = await matchAll(opened, table, cached, replay, new Set(status?.parts));
      session = await opened;
      if (!cached) await resumer?.saveSignature({ chunking, ...table.view() });
      await resumer?.saveSession({
        id: session.id,
        basisVersion: session.basis?.version ?? null,
        inPlace,
        oldOffsets: table.view().oldOffsets,
        partSize: session.partSize,
        limits: session.limits,
        ...(metadata ? { metadata } : {}),
        literalBytes: 0,
        landedBytes: 0,
        expiresAt: session.expiresAt ?? '',
      });
    }
    return await upload(session, table, status, planner);
  } catch (e) {
    failed.abort(e);
    // A part refused as damaged, a read past a shrunk end, a root that does not match: the file changed under the push.
    const settled = e instanceof DeltaflareError && (e.code === 'SOURCE_CHANGED' || e.code === 'ABORTED');
    const error = !settled && (await sourceChanged()) ? sourceChangedError(source.name, CHANGED_HOW, e) : e;
    await resumer?.failed(error);
    throw error;
  }

  /** Whether the source changed since it was opened (false where it cannot tell). */
  async function sourceChanged(): Promise<boolean> {
    return (await source.changed?.().catch(() => false)) ?? false;
  }

  /**
   * Signatures (computed, or from the store) to the server, and its answers
   * confirmed into `table.oldOffsets` and planned in index order; parts the
   * planner closes meanwhile are sent at once. Returns the planner (none for
   * an empty file).
   *
   * Early parts need no more of the server than later ones: a part is
   * checked against the signature batches recorded so far, and those cover
   * its chunks, since its batch and every one before it were answered.
   *
   * Resuming: with a resume store the session is recorded before any batch
   * goes, and each batch's bounds before it goes (resume.ts). A push cut
   * during the pass resumes that session: `replay` are those bounds, sent
   * again exactly (the server accepts an identical batch again and answers
   * the same matches; a batch with other bounds over recorded chunks would
   * be PART_CONFLICT), then the pass goes on as usual. The planner's parts
   * depend only on which chunks are literal, and that only on the chunks and
   * the basis, so they are the parts of the cut push, and those in `landed`
   * are not sent again. A cut after the pass resumes from the saved matches:
   * plan() of them gives the planner's parts.
   *
   * In place no part goes early (the planner closes none before finish()):
   * ordering the copies may turn some into literals, which changes the parts.
   */
  async function matchAll(
    created: Promise<SessionFacts>,
    table: ChunkTable,
    cached: { lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array } | undefined,
    replay: ReadonlyArray<readonly [number, number]>,
    landed: ReadonlySet<number>,
  ): Promise<Planner | undefined> {
    // A failed session request, or a failed early part, ends the signature pass (its reason surfaces).
    const stop = new AbortController();
    created.catch((e) => stop.abort(e));
    let planner: Planner | undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    let confirmed = Promise.resolve();
    // Chunks [sent, table.count) are chunked but not yet sent. Whenever one of
    // `concurrency` request slots is free (and the session exists), one
    // request takes all of them, up to the batch limit; answers are confirmed
    // in index order (copies then merge best). Batches that piled up go as
    // one: each request costs the server a locked, fsynced record of the
    // batch (~10 ms measured), and a hand-placed basis has all 14 batches of
    // a 108 MiB file ready before its session exists (150 ms of one-at-a-time
    // requests before this).
    let sent = 0;
    let active = 0;
    let failed = false;
    let ready: SessionFacts | undefined;
    /** Batches of `replay` sent again so far. */
    let replayed = 0;
    const pump = () => {
      const session = ready;
      if (!session) return;
      const path = `/v1/sessions/${encodeURIComponent(session.id)}`;
      while (!failed && active < concurrency && sent < table.count) {
        const first = sent;
        const again = replayed < replay.length;
        if (again && table.count < replay[replayed][1]) break; // a recorded batch goes again whole
        const end = again ? replay[replayed++][1] : Math.min(table.count, first + session.limits.maxSignaturesPerBatch);
        sent = end;
        const view = table.view();
        const body = encodeSignatures({ firstIndex: first, crcs: view.crcs.subarray(first, end), lengths: view.lengths.subarray(first, end) });
        active++;
        // A new batch's bounds are saved before it goes (resume.ts).
        const recorded = again || !resumer ? Promise.resolve() : resumer.batchSent(first, end);
        const answer = recorded
          .then(() => http.bytes('POST', `${path}/match`, body, 'application/octet-stream'))
          .then(
            (bytes) => {
              active--;
              pump();
              return bytes;
            },
            (e) => {
              failed = true;
              return Promise.reject(e);
            },
          );
        answer.catch(() => {}); // surfaced through `confirmed`
        confirmed = confirmed.then(async () => {
          const matches = decodeMatches(await answer);
          const v = table.view();
          if (session.basis) confirmMatches(matches, v, v.oldOffsets, session.basis.size);
          planner ??= new Planner(planOptions(session));
          const found = planner.add(v, v.oldOffsets, end);
          progress.found(planner.copiedBytes, planner.literalBytes);
          resumer?.found(planner.literalBytes);
          for (const part of found) {
            if (landed.has(part.part)) continue;
            const upload = sendPart(path, part);
            upload.catch((e) => stop.abort(e)); // surfaced by upload() too
            early.set(part.part, upload);
          }
        });
        confirmed.catch(() => {}); // surfaced by the awaits below
      }
    };
    created.then(
      (s) => {
        ready = s;
        pump();
      },
      () => {},
    );
    const send = () => pump();
    try {
      if (cached) {
        table.append({ firstIndex: 0, ...cached });
        progress.cachedSignature(source.size);
        send();
      } else {
        const passDone = stage('signatures');
        for await (const batch of signatures(source, {
          chunking,
          pool: await options.pool,
          segmentSize: options.segmentSize,
          signal,
          onBytes: (n: number) => progress.hashed(n),
        })) {
          table.append(batch);
          send();
        }
        passDone();
      }
    } catch (e) {
      await created; // a failed session request is the cause to report
      // The pass rejects with the signal's reason: the caller's abort is ABORTED, as it is elsewhere (and stays resumable).
      const reason = options.signal?.reason;
      if (options.signal?.aborted && e === reason) throw new DeltaflareError('ABORTED', `aborted: ${reason ?? 'by the caller'}`, { cause: reason });
      throw e;
    }
    await created;
    pump();
    if (replayed < replay.length && replay[replayed][1] > table.count) {
      throw new DeltaflareError(
        'SOURCE_CHANGED',
        `${source.name ?? 'the source'} has ${table.count} chunks, fewer than the ${replay[replayed][1]} sent before the push was cut: push it again`,
      );
    }
    // Every chunk sent and every answer confirmed (answers send what piled up meanwhile).
    for (let c = confirmed; ; c = confirmed) {
      await c;
      if (c === confirmed && sent === table.count) break;
    }
    if (table.size !== source.size) {
      throw new DeltaflareError('INTERNAL', `chunks cover ${table.size} bytes of a ${source.size}-byte source: did it change while being read?`);
    }
    return planner;
  }

  /** The planner's options: parts carry their payload's CRC, so part-body.ts need not read a part for it. */
  function planOptions(session: SessionFacts): PlanOptions {
    return { partSize: session.partSize, maxPartOps: session.limits.maxPartOps, inPlace, crc32Combine: (a, b, n) => k.crc32Combine(a, b, n) };
  }

  /** Sends one part (at most partConcurrency at once) and reports it landed. */
  function sendPart(path: string, part: PartPlan): Promise<void> {
    return partSlots.run(async () => {
      const done = stage(`part ${part.part}`);
      const body = await partBody(k, source, part, bodies);
      try {
        await http.bytes('PUT', `${path}/parts/${part.part}`, body, 'application/octet-stream');
      } finally {
        if (body instanceof Uint8Array) bodies.give(body);
      }
      done();
      landedNow.add(part.part);
      landedNowBytes += part.literalBytes;
      progress.uploaded(part.literalBytes);
      options.onPart?.(part.part);
      await resumer?.landed(part.literalBytes);
    });
  }

  /**
   * The plan (the planner's, whose first parts may be on their way already,
   * or planned whole for a resumed session), the plan message and the parts
   * not in `status` nor sent early, then the commit.
   */
  async function upload(session: SessionFacts, table: ChunkTable, status?: SessionStatus, planner?: Planner): Promise<SyncResult> {
    const path = `/v1/sessions/${encodeURIComponent(session.id)}`;
    const chunks = table.view();
    if (planner && planner.count !== table.count) throw new DeltaflareError('INTERNAL', `planned ${planner.count} of ${table.count} chunks`);
    const p = planner ? planner.finish() : plan(chunks, chunks.oldOffsets, planOptions(session));
    const landed = new Set(status?.parts ?? []);
    const literalBytes = p.parts.reduce((n, part) => n + part.literalBytes, 0);
    const resumedBytes = p.parts.reduce((n, part) => n + (landed.has(part.part) ? part.literalBytes : 0), 0);
    progress.planned(source.size - literalBytes - p.dups.reduce((n, d) => n + d.length, 0), literalBytes, status ? resumedBytes : -1);
    await resumer?.planned(literalBytes, resumedBytes + landedNowBytes);
    options.onPlan?.({
      size: source.size,
      matched: [...p.copies.map((c): [number, number] => [c.newOffset, c.length]), ...p.dups.map((d): [number, number] => [d.newOffset, d.length])],
      parts: p.parts.map((part) => ({
        part: part.part,
        ranges: part.ops.map((o): [number, number] => [o.newOffset, o.length]),
        landed: landed.has(part.part) || landedNow.has(part.part),
      })),
    });
    // The plan and the parts go together: the server checks a part against
    // the signatures only, and the plan against the parts at commit (one
    // round trip less before the last part; 35 ms on the WAN case).
    await Promise.all([
      status?.plan ? undefined : http.bytes('PUT', `${path}/plan`, encodePlan(p), 'application/octet-stream'),
      ...early.values(),
      ...p.parts.filter((part) => !landed.has(part.part) && !early.has(part.part)).map((part) => sendPart(path, part)),
    ]);
    // A file edited while paused (or while this ran) must not be committed
    // from a signature of its old content.
    await resumer?.verify(source);

    // 3. Commit: the root binds every chunk digest, so the server can check the
    // rebuilt file against it from digests it already has.
    progress.phase('committing');
    const commit: CommitRequest = {
      root: toHex(k.blake3(chunks.hashes)),
      size: source.size,
      parts: p.parts.length,
      baseVersion: session.basis?.version ?? null,
    };
    // Bytes read early may be of the old file and later ones of the new: no commit of such a mix.
    if (await sourceChanged()) throw sourceChangedError(source.name, CHANGED_HOW);
    const commitDone = stage('commit');
    const info = await http.json<FileInfo>('POST', `${path}/commit`, commit);
    commitDone();
    await resumer?.committed();
    const done = progress.phase('done');
    return {
      ...info,
      chunks: table.count,
      matchedBytes: done.matchedBytes,
      literalBytes,
      bytesSent: done.bytesSent,
      bytesReceived: done.bytesReceived,
      seconds: (performance.now() - started) / 1000,
    };
  }
}

/** What sync() needs of a session, new or resumed. */
type SessionFacts = { id: string; basis: BasisInfo | null; partSize: number; limits: Limits; expiresAt?: string };
