// sync(): push a new version of a file to an endpoint, sending only what
// changed. A Push runs the steps of docs/architecture.md, one method each:
//
//   open        the session: a new one (POST /v1/sessions), or the one a
//               resume record names (resume.ts)
//   match       signatures (in the worker pool) --batches--> match requests,
//               confirmation, planning chunk by chunk, parts as they fill
//               (match-stream.ts)
//   send        the plan message and the parts not sent yet (several in flight)
//   commit      the root of every chunk digest; the endpoint checks it
//
// Parts go as soon as the planner closes them, while later segments are still
// being chunked and matched (docs/protocol.md, "Parts before the plan").
// Progress (progress.ts) is reported throughout.
//
// Runtime-neutral: the caller brings the worker pool (node/index.ts and the
// browser entry make one) and the source (a file, a Blob, bytes).
import { BufferPool } from '../../core/base/buffer-pool.js';
import { DeltaflareError } from '../../core/base/errors.js';
import { DEFAULT_CONCURRENCY, DEFAULT_LIMITS } from '../../core/base/limits.js';
import { checkOptions } from '../../core/base/options.js';
import { Semaphore } from '../../core/base/semaphore.js';
import { type Kernels, init } from '../../core/kernels/index.js';
import { type ChunkingSpec, chunkingFor } from '../../core/protocol/chunking.js';
import { toHex } from '../../core/protocol/hex.js';
import type { CommitRequest, CreateSessionResponse, FileInfo, SessionStatus } from '../../core/protocol/messages.js';
import { checkMetadata, type Metadata } from '../../core/protocol/metadata.js';
import { encodePlan } from '../../core/protocol/wire.js';
import { Http, probeEndpoint } from '../http.js';
import { ChunkTable } from '../signatures/chunk-table.js';
import { type SyncSource, sourceChangedError } from '../source.js';
import { stage } from '../trace.js';
import { MatchStream, type PushContext, type SessionFacts } from './match-stream.js';
import { SYNC_OPTIONS, type SyncOptions, type SyncResult } from './options.js';
import { partBody } from './part-body.js';
import { type PartPlan, type Plan, plan, type Planner, type PlanOptions } from './plan.js';
import { ProgressReporter } from './progress.js';
import { Resumer, type StoredSession } from './resume.js';

export type { SyncLayout, SyncOptions, SyncPhase, SyncProgress, SyncResult } from './options.js';
export { SYNC_OPTIONS } from './options.js';

/** What SyncSource.changed() tells: the file is not what it was when opened. */
const CHANGED_HOW = 'written, truncated, grown or replaced';

/** Pushes `source` to `options.key` on the endpoint and returns the new version. */
export async function sync(source: SyncSource, options: SyncOptions): Promise<SyncResult> {
  return new Push(source, options).run();
}

/** Where the open step leaves a push: its session, its chunks, and what the server has of it. */
interface Opened {
  session: SessionFacts;
  table: ChunkTable;
  status?: SessionStatus;
  planner?: Planner;
}

/** One push: its settings, its connection and what it has sent so far. */
export class Push implements PushContext {
  readonly chunking: ChunkingSpec;
  readonly concurrency: number;
  readonly progress: ProgressReporter;
  readonly http: Http;
  readonly early = new Map<number, Promise<void>>();
  resumer: Resumer | undefined;
  private readonly metadata: Metadata | undefined;
  private readonly inPlace: boolean;
  private readonly started = performance.now();
  /** Ends what is still running or queued (other parts' uploads, their retries) once the push has failed. */
  private readonly failed = new AbortController();
  /** Parts in flight at once, early and later ones alike: each holds one part body (at most partSize) in memory. */
  private readonly partSlots: Semaphore;
  /** Part bodies reused from part to part: as many as parts go at once. */
  private readonly bodies: BufferPool;
  /** Parts that landed in this run, and their literal bytes. */
  private readonly landedNow = new Set<number>();
  private landedNowBytes = 0;
  private k!: Kernels;

  constructor(
    readonly source: SyncSource,
    readonly options: SyncOptions,
  ) {
    checkOptions('sync', options, SYNC_OPTIONS, { workers: 'pool (push() and the browser sync() take workers)', meta: 'metadata' });
    this.metadata = options.metadata === undefined ? undefined : checkMetadata(options.metadata, 'sync metadata');
    this.chunking = options.chunking ?? chunkingFor(source.size, DEFAULT_LIMITS.maxManifestChunks);
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.inPlace = options.inPlace ?? false;
    this.progress = new ProgressReporter(source.size, options.onProgress);
    this.http = new Http(options.endpoint, {
      fetch: options.fetch,
      signal: options.signal ? AbortSignal.any([options.signal, this.failed.signal]) : this.failed.signal,
      retry: options.retry,
      timeoutMs: options.timeoutMs,
      streamBodies: options.streamBodies,
      token: options.token,
      onBytes: (sent, received) => this.progress.transferred(sent, received),
    });
    this.partSlots = new Semaphore(options.partConcurrency ?? this.concurrency);
    this.bodies = new BufferPool(options.partConcurrency ?? this.concurrency);
  }

  /** Runs every step; a failure is reported as SOURCE_CHANGED when the source changed meanwhile. */
  async run(): Promise<SyncResult> {
    this.k = await init();
    const { source, options } = this;
    // Before any byte is hashed: a URL that is not deltaflare's says so now, not after the pass.
    const probe = probeEndpoint(this.http);
    probe.catch(() => {}); // awaited below
    this.resumer = options.resume
      ? await Resumer.open(options.resume, { endpoint: options.endpoint, key: options.key, source, k: this.k, http: this.http, handle: options.fileHandle })
      : undefined;
    try {
      await probe;
      const opened = await this.open();
      const p = await this.send(opened);
      return await this.commit(opened, p);
    } catch (e) {
      this.failed.abort(e);
      // A part refused as damaged, a read past a shrunk end, a root that does not match: the file changed under the push.
      const settled = e instanceof DeltaflareError && (e.code === 'SOURCE_CHANGED' || e.code === 'ABORTED');
      const error = !settled && (await this.sourceChanged()) ? sourceChangedError(source.name, CHANGED_HOW, e) : e;
      await this.resumer?.failed(error);
      throw error;
    }
  }

  /**
   * The session and the chunks' matches: a session resumed after its pass
   * takes both from the resume store (the plan is the one the server has);
   * otherwise the match step runs, over a new session or the resumed one
   * (whose recorded batches it sends again).
   */
  private async open(): Promise<Opened> {
    const { source, chunking, resumer } = this;
    const reused = await resumer?.session({ size: source.size, chunking, inPlace: this.inPlace, metadata: this.metadata });
    const cached = resumer?.signature(chunking);
    const table = new ChunkTable();
    if (reused && !reused.stored.pass) {
      const { stored, status } = reused;
      table.append({ firstIndex: 0, ...cached! });
      table.oldOffsets.set(stored.oldOffsets);
      this.progress.cachedSignature(source.size);
      return { session: { id: stored.id, basis: status.basis, partSize: stored.partSize, limits: stored.limits }, table, status };
    }
    const status = reused?.status;
    const created = reused ? Promise.resolve(this.facts(reused.stored, reused.status)) : this.createSession();
    created.catch(() => {}); // surfaced by the match step
    // A copy: the record's list grows as new batches go.
    const replay = [...(reused?.stored.pass?.batches ?? [])];
    const planner = await new MatchStream(this, created, table, replay, new Set(status?.parts)).run(cached);
    const session = await created;
    if (!cached) await resumer?.saveSignature({ chunking, ...table.view() });
    await resumer?.saveSession(this.record(session, table.view().oldOffsets));
    return { session, table, status, planner };
  }

  /** A session resumed during its pass, as the match step needs it. */
  private facts(stored: StoredSession, status: SessionStatus): SessionFacts {
    return { id: stored.id, basis: status.basis, partSize: stored.partSize, limits: stored.limits, expiresAt: stored.expiresAt };
  }

  /**
   * A new session. The signature pass does not wait for it: its batches do.
   * The server may spend the request building the basis' manifest (a
   * hand-placed file: ~0.5 s for 100 MiB). Recorded before any batch or part
   * goes, so a push cut from then on resumes this session.
   */
  private async createSession(): Promise<SessionFacts> {
    const { options, source, chunking } = this;
    const done = stage('session');
    const s = await this.http.json<CreateSessionResponse>('POST', '/v1/sessions', {
      key: options.key,
      basis: options.basis,
      size: source.size,
      chunking,
      inPlace: this.inPlace,
      ...(this.metadata ? { metadata: this.metadata } : {}),
    });
    done();
    await this.resumer?.saveSession({ ...this.record(s, new Float64Array(0)), pass: { batches: [] } });
    return s;
  }

  /** The resume record of `session`, with the confirmed matches so far. */
  private record(session: SessionFacts, oldOffsets: Float64Array): StoredSession {
    return {
      id: session.id,
      basisVersion: session.basis?.version ?? null,
      inPlace: this.inPlace,
      oldOffsets,
      partSize: session.partSize,
      limits: session.limits,
      ...(this.metadata ? { metadata: this.metadata } : {}),
      literalBytes: 0,
      landedBytes: 0,
      expiresAt: session.expiresAt ?? '',
    };
  }

  /** The planner's options: parts carry their payload's CRC, so part-body.ts need not read a part for it. */
  planOptions(session: SessionFacts): PlanOptions {
    return {
      partSize: session.partSize,
      maxPartOps: session.limits.maxPartOps,
      inPlace: this.inPlace,
      crc32Combine: (a, b, n) => this.k.crc32Combine(a, b, n),
    };
  }

  /** Sends one part (at most partConcurrency at once) and reports it landed. */
  sendPart(path: string, part: PartPlan): Promise<void> {
    return this.partSlots.run(async () => {
      const done = stage(`part ${part.part}`);
      const body = await partBody(this.k, this.source, part, this.bodies);
      try {
        await this.http.bytes('PUT', `${path}/parts/${part.part}`, body, 'application/octet-stream');
      } finally {
        if (body instanceof Uint8Array) this.bodies.give(body);
      }
      done();
      this.landedNow.add(part.part);
      this.landedNowBytes += part.literalBytes;
      this.progress.uploaded(part.literalBytes);
      this.options.onPart?.(part.part);
      await this.resumer?.landed(part.literalBytes);
    });
  }

  /**
   * The whole plan (the planner's, whose first parts may be on their way
   * already, or planned now for a session resumed after its pass), then the
   * plan message and the parts not in `status` nor sent early, together: the
   * server checks a part against the signatures only, and the plan against
   * the parts at commit (one round trip less before the last part).
   */
  private async send({ session, table, status, planner }: Opened): Promise<Plan> {
    const { source } = this;
    const path = `/v1/sessions/${encodeURIComponent(session.id)}`;
    const chunks = table.view();
    if (planner && planner.count !== table.count) throw new DeltaflareError('INTERNAL', `planned ${planner.count} of ${table.count} chunks`);
    const p = planner ? planner.finish() : plan(chunks, chunks.oldOffsets, this.planOptions(session));
    const landed = new Set(status?.parts ?? []);
    const literalBytes = p.parts.reduce((n, part) => n + part.literalBytes, 0);
    const resumedBytes = p.parts.reduce((n, part) => n + (landed.has(part.part) ? part.literalBytes : 0), 0);
    this.progress.planned(source.size - literalBytes - p.dups.reduce((n, d) => n + d.length, 0), literalBytes, status ? resumedBytes : -1);
    await this.resumer?.planned(literalBytes, resumedBytes + this.landedNowBytes);
    this.options.onPlan?.({
      size: source.size,
      matched: [...p.copies.map((c): [number, number] => [c.newOffset, c.length]), ...p.dups.map((d): [number, number] => [d.newOffset, d.length])],
      parts: p.parts.map((part) => ({
        part: part.part,
        ranges: part.ops.map((o): [number, number] => [o.newOffset, o.length]),
        landed: landed.has(part.part) || this.landedNow.has(part.part),
      })),
    });
    await Promise.all([
      status?.plan ? undefined : this.http.bytes('PUT', `${path}/plan`, encodePlan(p), 'application/octet-stream'),
      ...this.early.values(),
      ...p.parts.filter((part) => !landed.has(part.part) && !this.early.has(part.part)).map((part) => this.sendPart(path, part)),
    ]);
    return p;
  }

  /**
   * The commit: the root binds every chunk digest, so the server checks the
   * rebuilt file against it from digests it already has. A file edited while
   * paused (or while this ran) is not committed from a signature of its old
   * content, nor from bytes read partly before and partly after a change.
   */
  private async commit({ session, table }: Opened, p: Plan): Promise<SyncResult> {
    const { source } = this;
    await this.resumer?.verify(source);
    this.progress.phase('committing');
    const chunks = table.view();
    const request: CommitRequest = {
      root: toHex(this.k.blake3(chunks.hashes)),
      size: source.size,
      parts: p.parts.length,
      baseVersion: session.basis?.version ?? null,
    };
    if (await this.sourceChanged()) throw sourceChangedError(source.name, CHANGED_HOW);
    const done = stage('commit');
    const info = await this.http.json<FileInfo>('POST', `/v1/sessions/${encodeURIComponent(session.id)}/commit`, request);
    done();
    await this.resumer?.committed();
    const end = this.progress.phase('done');
    return {
      ...info,
      chunks: table.count,
      matchedBytes: end.matchedBytes,
      literalBytes: p.parts.reduce((n, part) => n + part.literalBytes, 0),
      bytesSent: end.bytesSent,
      bytesReceived: end.bytesReceived,
      seconds: (performance.now() - this.started) / 1000,
    };
  }

  /** Whether the source changed since it was opened (false where it cannot tell). */
  private async sourceChanged(): Promise<boolean> {
    return (await this.source.changed?.().catch(() => false)) ?? false;
  }
}
