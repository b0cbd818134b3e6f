// The match step of a push, streamed: signature batches go to the endpoint
// as the pass produces them (several requests in flight), each answer is
// confirmed with the strong hashes and planned in index order, and the parts
// the planner closes meanwhile are sent at once.
//
// Early parts need no more of the server than later ones: a part is checked
// against the signature batches recorded so far, and those cover its
// chunks, since its batch and every one before it were answered.
//
// Resuming: with a resume store the session is recorded before any batch
// goes, and each batch's bounds before it goes (resume.ts). A push cut
// during the pass resumes that session: `replay` are those bounds, sent
// again exactly (the server accepts an identical batch again and answers
// the same matches; a batch with other bounds over recorded chunks would be
// PART_CONFLICT), then the pass goes on as usual. The planner's parts depend
// only on which chunks are literal, and that only on the chunks and the
// basis, so they are the parts of the cut push, and those in `landed` are
// not sent again.
//
// In place no part goes early (the planner closes none before finish()):
// ordering the copies may turn some into literals, which changes the parts.
import { DeltaflareError } from '../../core/base/errors.js';
import type { Limits } from '../../core/base/limits.js';
import type { ChunkingSpec } from '../../core/protocol/chunking.js';
import { confirmMatches } from '../../core/protocol/match.js';
import type { BasisInfo } from '../../core/protocol/messages.js';
import { decodeMatches, encodeSignatures } from '../../core/protocol/wire.js';
import type { Http } from '../http.js';
import type { ChunkTable } from '../signatures/chunk-table.js';
import { signatures } from '../signatures/pass.js';
import type { SyncSource } from '../source.js';
import { stage } from '../trace.js';
import type { SyncOptions } from './options.js';
import { type PartPlan, Planner, type PlanOptions } from './plan.js';
import type { ProgressReporter } from './progress.js';
import type { Resumer } from './resume.js';

/** What a push needs of its session, new or resumed. */
export interface SessionFacts {
  id: string;
  basis: BasisInfo | null;
  partSize: number;
  limits: Limits;
  expiresAt?: string;
}

/** A file's whole signature, from the resume store. */
export type StoredChunks = { lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array };

/** What the match step uses of its push. */
export interface PushContext {
  readonly source: SyncSource;
  readonly options: SyncOptions;
  readonly chunking: ChunkingSpec;
  /** Match requests in flight at once. */
  readonly concurrency: number;
  readonly http: Http;
  readonly progress: ProgressReporter;
  readonly resumer: Resumer | undefined;
  /** Parts sent while the pass ran, by number: their uploads. */
  readonly early: Map<number, Promise<void>>;
  planOptions(session: SessionFacts): PlanOptions;
  sendPart(path: string, part: PartPlan): Promise<void>;
}

/** One push's stream of signature batches, match answers and early parts. */
export class MatchStream {
  /** Chunks [sent, table.count) are chunked but not yet sent. */
  private sent = 0;
  private active = 0;
  private failed = false;
  private session: SessionFacts | undefined;
  /** Batches of `replay` sent again so far. */
  private replayed = 0;
  /** Answers confirmed and planned, in index order. */
  private confirmed: Promise<void> = Promise.resolve();
  private planner: Planner | undefined;
  /** A failed session request, or a failed early part, ends the signature pass (its reason surfaces). */
  private readonly stop = new AbortController();

  constructor(
    private readonly push: PushContext,
    private readonly created: Promise<SessionFacts>,
    private readonly table: ChunkTable,
    private readonly replay: ReadonlyArray<readonly [number, number]>,
    private readonly landed: ReadonlySet<number>,
  ) {
    created.then(
      (s) => {
        this.session = s;
        this.pump();
      },
      (e) => this.stop.abort(e),
    );
  }

  /** Runs the pass (or takes `cached`) to its end and every answer confirmed; returns the planner (none for an empty file). */
  async run(cached: StoredChunks | undefined): Promise<Planner | undefined> {
    const { source } = this.push;
    await this.chunkAll(cached);
    await this.created;
    this.pump();
    if (this.replayed < this.replay.length && this.replay[this.replayed][1] > this.table.count) {
      throw new DeltaflareError(
        'SOURCE_CHANGED',
        `${source.name ?? 'the source'} has ${this.table.count} chunks, fewer than the ${this.replay[this.replayed][1]} sent before the push was cut: push it again`,
      );
    }
    // Every chunk sent and every answer confirmed (answers send what piled up meanwhile).
    for (let c = this.confirmed; ; c = this.confirmed) {
      await c;
      if (c === this.confirmed && this.sent === this.table.count) break;
    }
    if (this.table.size !== source.size) {
      throw new DeltaflareError('INTERNAL', `chunks cover ${this.table.size} bytes of a ${source.size}-byte source: did it change while being read?`);
    }
    return this.planner;
  }

  /** The signature pass in the pool (or the stored signature), each batch handed to pump() as it comes. */
  private async chunkAll(cached: StoredChunks | undefined): Promise<void> {
    const { source, options, progress } = this.push;
    if (cached) {
      this.table.append({ firstIndex: 0, ...cached });
      progress.cachedSignature(source.size);
      this.pump();
      return;
    }
    const signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
    try {
      const passDone = stage('signatures');
      const pass = signatures(source, {
        chunking: this.push.chunking,
        pool: await options.pool,
        segmentSize: options.segmentSize,
        signal,
        onBytes: (n: number) => progress.hashed(n),
      });
      for await (const batch of pass) {
        this.table.append(batch);
        this.pump();
      }
      passDone();
    } catch (e) {
      await this.created; // a failed session request is the cause to report
      // The pass rejects with the signal's reason: the caller's abort is ABORTED, as it is elsewhere (and stays resumable).
      const reason = options.signal?.reason;
      if (options.signal?.aborted && e === reason) throw new DeltaflareError('ABORTED', `aborted: ${reason ?? 'by the caller'}`, { cause: reason });
      throw e;
    }
  }

  /**
   * Whenever one of `concurrency` request slots is free (and the session
   * exists), one request takes every chunk not yet sent, up to the batch
   * limit: batches that piled up go as one, since each request costs the
   * server a locked, fsynced record of the batch (~10 ms measured). A batch
   * of `replay` goes again whole, with its recorded bounds.
   */
  private pump(): void {
    const session = this.session;
    if (!session) return;
    const path = `/v1/sessions/${encodeURIComponent(session.id)}`;
    while (!this.failed && this.active < this.push.concurrency && this.sent < this.table.count) {
      const first = this.sent;
      const again = this.replayed < this.replay.length;
      if (again && this.table.count < this.replay[this.replayed][1]) break;
      const end = again ? this.replay[this.replayed++][1] : Math.min(this.table.count, first + session.limits.maxSignaturesPerBatch);
      this.sent = end;
      this.request(session, path, first, end, again);
    }
  }

  /** Sends chunks [first, end) and queues their answer for confirmation in index order. */
  private request(session: SessionFacts, path: string, first: number, end: number, again: boolean): void {
    const { http, resumer } = this.push;
    const view = this.table.view();
    const body = encodeSignatures({ firstIndex: first, crcs: view.crcs.subarray(first, end), lengths: view.lengths.subarray(first, end) });
    this.active++;
    // A new batch's bounds are saved before it goes (resume.ts).
    const recorded = again || !resumer ? Promise.resolve() : resumer.batchSent(first, end);
    const answer = recorded
      .then(() => http.bytes('POST', `${path}/match`, body, 'application/octet-stream'))
      .then(
        (bytes) => {
          this.active--;
          this.pump();
          return bytes;
        },
        (e) => {
          this.failed = true;
          return Promise.reject(e);
        },
      );
    answer.catch(() => {}); // surfaced through `confirmed`
    this.confirmed = this.confirmed.then(async () => this.confirm(session, path, await answer, end));
    this.confirmed.catch(() => {}); // surfaced by run()
  }

  /** Confirms an answer's candidates with the strong hashes, plans through chunk `end` and sends the parts that closed. */
  private confirm(session: SessionFacts, path: string, answer: Uint8Array, end: number): void {
    const { progress, resumer } = this.push;
    const matches = decodeMatches(answer);
    const v = this.table.view();
    if (session.basis) confirmMatches(matches, v, v.oldOffsets, session.basis.size);
    this.planner ??= new Planner(this.push.planOptions(session));
    const closed = this.planner.add(v, v.oldOffsets, end);
    progress.found(this.planner.copiedBytes, this.planner.literalBytes);
    resumer?.found(this.planner.literalBytes);
    for (const part of closed) {
      if (this.landed.has(part.part)) continue;
      const upload = this.push.sendPart(path, part);
      upload.catch((e) => this.stop.abort(e)); // surfaced by the upload step too
      this.push.early.set(part.part, upload);
    }
  }
}
