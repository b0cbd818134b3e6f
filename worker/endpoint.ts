// The endpoint's state and its session operations, behind the HTTP routes of
// app.ts: one object per app, holding the store, the kernels, the limits and
// the in-process helpers (session locks, manifest cache, chunk tables, parts
// in flight, copy jobs). Web APIs only: the same object runs under workerd.
import { bodyCaps, DEFAULT_STRONG_BYTES, ENDPOINT_DEFAULTS, FIXED_BLOCK_MIN, type Limits, resolveLimits, WIRE_LIMITS } from '../core/base/limits.js';
import type { Kernels } from '../core/kernels/api.js';
import { resolveOptions } from '../core/kernels/chunker.js';
import { toHex } from '../core/protocol/hex.js';
import { type ChunkingSpec, chunkingId, DEFAULT_CHUNKING, expectedChunks, parseChunkingId } from '../core/protocol/chunking.js';
import { manifestPieces } from '../core/protocol/manifest.js';
import type { BasisInfo, CreateSessionResponse, FileInfo, FileList, SessionStatus } from '../core/protocol/messages.js';
import { firstOverwrittenRead } from '../core/protocol/in-place.js';
import { decodePlan } from '../core/protocol/wire.js';
import { jsonBool as bool, jsonInt as int, jsonString as str } from './body.js';
import { BodyIntake } from './body-intake.js';
import { ByteBudget } from '../core/base/byte-budget.js';
import { BufferPool } from '../core/base/buffer-pool.js';
import { checkRange } from '../core/base/errors.js';
import { ApiError } from './errors.js';
import { commitSession } from './commit.js';
import { currentVersion, getFile, listFiles } from './files.js';
import { ManifestCache } from './manifests.js';
import { getBlockDigests } from './blocks.js';
import { ReadBudget } from './read-budget.js';
import { type AppOptions, checkAppOptions } from './options.js';
import { Parts } from './parts.js';
import { CopyJobs } from './rebuild.js';
import { type Session, type SessionState, Sessions, newSessionId } from './sessions.js';
import { admitSession, type Hooks, notify } from './hooks.js';
import { checkMetadata, encodeMetadataHeader, METADATA_HEADER } from '../core/protocol/metadata.js';
import { Signatures } from './signatures.js';
import { validateKey } from './store/keys.js';
import type { Store } from './store/store.js';

/**
 * Everything one app needs between requests.
 * @example const ep = new Endpoint({ store, kernels }); await ep.createSession({ key: 'disk.img', size: 1 << 20 })
 */
export class Endpoint {
  readonly store: Store;
  readonly kernels: Kernels;
  readonly limits: Limits;
  readonly now: () => number;
  readonly log: (e: unknown) => void;
  readonly sessions: Sessions;
  readonly manifests: ManifestCache;
  readonly signatures: Signatures;
  readonly parts: Parts;
  readonly copies: CopyJobs;
  /** Request bodies read within AppOptions.bodyBudgetBytes, spooled while they arrive when AppOptions.spool is given. */
  readonly bodies: BodyIntake;
  /** Buffers for part bodies of limits.partSize: as many as the body budget holds at once. */
  readonly partBuffers: BufferPool;
  /** Inflated part payloads held at once (AppOptions.inflateBudgetBytes). */
  readonly inflation: ByteBudget;
  /** Bytes reads hold in memory at once (AppOptions.readBudgetBytes). */
  readonly reads: ReadBudget;
  /** Lifecycle hooks (hooks.ts). */
  readonly hooks: Hooks;
  private readonly sweepIntervalMs: number;
  private lastSweep = -Infinity;

  constructor(opts: AppOptions) {
    checkAppOptions('Endpoint', opts);
    this.hooks = { onSessionCreate: opts.onSessionCreate, onCommit: opts.onCommit, onSessionExpire: opts.onSessionExpire };
    this.store = opts.store;
    this.kernels = opts.kernels;
    this.limits = resolveLimits(opts.limits);
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? console.error;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? ENDPOINT_DEFAULTS.sweepIntervalMs;
    this.sessions = new Sessions(this.store, this.limits, this.now);
    this.manifests = new ManifestCache(this.store, this.kernels, opts.manifestCacheChunks ?? ENDPOINT_DEFAULTS.manifestCacheChunks, this.limits);
    this.signatures = new Signatures(this.store, this.sessions, this.manifests, this.limits);
    // Inflated payloads: one part at a time by default, in a pooled buffer (a Worker isolate has 128 MB).
    const inflateBudget = opts.inflateBudgetBytes ?? this.limits.partSize;
    checkRange('inflateBudgetBytes', inflateBudget, 1, 2 ** 40);
    this.inflation = new ByteBudget(inflateBudget);
    this.parts = new Parts(this.store, this.kernels, this.sessions, this.signatures, this.limits, {
      budget: this.inflation,
      buffers: new BufferPool(Math.max(1, Math.floor(inflateBudget / this.limits.partSize)), this.limits.partSize),
    });
    this.copies = new CopyJobs(opts.waitUntil);
    const budget = opts.bodyBudgetBytes ?? ENDPOINT_DEFAULTS.bodyBudgetBytes;
    checkRange('bodyBudgetBytes', budget, 1, 2 ** 40);
    this.bodies = new BodyIntake(new ByteBudget(budget), opts.spool);
    const readBudget = opts.readBudgetBytes ?? ENDPOINT_DEFAULTS.readBudgetBytes;
    checkRange('readBudgetBytes', readBudget, 1, 2 ** 40);
    this.reads = new ReadBudget(readBudget);
    const partBody = bodyCaps(this.limits).part;
    this.partBuffers = new BufferPool(Math.max(1, Math.floor(budget / partBody)), partBody);
  }

  /** Sweeps expired sessions at most once per sweepIntervalMs; returns the sweep to await (tests) or ignore. */
  maybeSweep(): Promise<void> | undefined {
    const now = this.now();
    if (now - this.lastSweep < this.sweepIntervalMs) return undefined;
    this.lastSweep = now;
    return this.sweep(now).then(
      () => undefined,
      (e) => this.log(e),
    );
  }

  /**
   * Removes expired sessions and their staged bytes (store.sweep), forgets
   * their in-process state and tells onSessionExpire; answers their ids.
   */
  async sweep(now: number): Promise<string[]> {
    // The records go with the sweep: read first, only when a hook wants them.
    const before = this.hooks.onSessionExpire ? new Map((await this.store.listSessions()).map((r) => [r.id, r as Session])) : null;
    const ids = await this.store.sweep(now);
    for (const id of ids) {
      this.forget(id);
      const r = before?.get(id);
      if (r && !r.state?.committed) await this.expired(r);
    }
    return ids;
  }

  /** Tells onSessionExpire that session `s` ended without a commit. */
  async expired(s: Session): Promise<void> {
    await notify(this.hooks.onSessionExpire, { id: s.id, key: s.key, size: s.size, ...(s.state?.metadata ? { metadata: s.state.metadata } : {}) }, this.log);
  }

  /** Drops in-process state of a session. */
  forget(id: string): void {
    this.signatures.forget(id);
    this.copies.forget(id);
  }

  /** `POST /v1/sessions`. */
  async createSession(body: Record<string, unknown>, client = '', request?: Request): Promise<CreateSessionResponse> {
    const key = str(body.key, 'key');
    validateKey(key);
    const size = int(body.size, 'size', 0, WIRE_LIMITS.maxOffset);
    const metadata = body.metadata === undefined ? undefined : checkMetadata(body.metadata, 'session metadata');
    if (size > this.limits.maxFileSize) throw new ApiError('TOO_LARGE', `size ${size} is above the limit maxFileSize ${this.limits.maxFileSize}`);
    const chunking = this.chunking(body.chunking);
    this.checkChunks(size, chunking, 'the new file');
    const inPlace = body.inPlace === undefined ? false : bool(body.inPlace, 'inPlace');
    const strongBytes =
      body.strongBytes === undefined ? DEFAULT_STRONG_BYTES : int(body.strongBytes, 'strongBytes', WIRE_LIMITS.minStrongBytes, WIRE_LIMITS.maxStrongBytes);
    const basisKey = body.basis === undefined ? key : body.basis === null ? null : validateKey(str(body.basis, 'basis'));

    const current = await this.store.head(key);
    let basis: BasisInfo | null = null;
    if (basisKey !== null) {
      const head = basisKey === key ? current : await this.store.head(basisKey);
      if (!head && body.basis !== undefined) throw new ApiError('NOT_FOUND', `basis ${JSON.stringify(basisKey)} does not exist`);
      if (head?.incomplete && body.basis !== undefined)
        throw new ApiError('INCOMPLETE', `basis ${JSON.stringify(basisKey)} is incomplete (an in-place push stopped); push it whole`);
      if (head && !head.incomplete) basis = { key: basisKey, version: head.id, size: head.size };
    }
    if (inPlace && (!basis || basis.key !== key)) {
      throw new ApiError(
        'INVALID_ARGUMENT',
        `inPlace needs the key's own current version as the basis (${JSON.stringify(key)} ${basis ? `has basis ${JSON.stringify(basis.key)}` : 'has none'})`,
      );
    }
    if (basis) {
      this.checkChunks(basis.size, chunking, `the basis ${JSON.stringify(basis.key)}`);
      await this.manifests.get(basis.key, basis.version, chunking); // built once here if missing, not in a match batch
    }

    await admitSession(this.hooks, { request: request ?? new Request('http://deltaflare.invalid/v1/sessions'), key, size, metadata });
    const staging = await this.store.createStaging(size);
    const now = this.now();
    const state: SessionState = {
      keyVersion: current?.id ?? null,
      basis,
      strongBytes,
      partSize: this.limits.partSize,
      sigBytes: 0,
      client,
      ...(metadata ? { metadata } : {}),
    };
    // Until its first batch or part a session holds a staging area for nothing: it ends sooner (the first write extends it).
    const expires = Math.min(this.sessions.expiry(now), now + this.limits.emptySessionTtlSeconds * 1000); // (or sooner: the idle TTL)
    const s: Session = {
      id: newSessionId(),
      key,
      basisVersion: basis?.version ?? null,
      size,
      chunking,
      inPlace,
      stagingId: staging.id,
      signatures: [],
      created: now,
      expires,
      state,
    };
    try {
      await this.store.putSession(s);
    } catch (e) {
      await staging.discard().catch(() => undefined);
      throw e;
    }
    return { id: s.id, basis, partSize: state.partSize, strongBytes, expiresAt: new Date(s.expires).toISOString(), limits: this.limits };
  }

  /** TOO_LARGE, naming maxManifestChunks, when `spec` would cut `size` bytes into more chunks than a manifest may hold. */
  private checkChunks(size: number, spec: ChunkingSpec, what: string): void {
    const n = expectedChunks(size, spec);
    const max = this.limits.maxManifestChunks;
    if (n > max) {
      throw new ApiError(
        'TOO_LARGE',
        `${what} of ${size} bytes makes ~${n} chunks of ${chunkingId(spec)}, above the limit maxManifestChunks ${max}: use larger chunks (chunkingFor)`,
      );
    }
  }

  /** Checks a chunking spec: the kernels' ranges, and a chunk no longer than a part (literal chunks are never split). */
  private chunking(v: unknown): ChunkingSpec {
    if (typeof v !== 'object' || v === null) throw new ApiError('INVALID_ARGUMENT', 'chunking must be an object');
    const c = v as Record<string, unknown>;
    const maxChunk = Math.min(this.limits.partSize, WIRE_LIMITS.maxChunkLength);
    if (c.kind === 'fixed') return { kind: 'fixed', block: int(c.block, 'chunking.block', FIXED_BLOCK_MIN, maxChunk) };
    if (c.kind !== 'cdc') throw new ApiError('INVALID_ARGUMENT', `chunking.kind ${JSON.stringify(c.kind)} is neither "cdc" nor "fixed"`);
    const spec = {
      kind: 'cdc' as const,
      min: int(c.min, 'chunking.min', 0, WIRE_LIMITS.maxChunkLength),
      avg: int(c.avg, 'chunking.avg', 0, WIRE_LIMITS.maxChunkLength),
      max: int(c.max, 'chunking.max', 0, maxChunk),
      level: int(c.level, 'chunking.level', 0, 3),
    };
    resolveOptions(spec); // the kernel's own ranges (INVALID_ARGUMENT naming the limit)
    return spec;
  }

  /** `PUT /v1/sessions/:id/plan`: stored once (identical resends accepted); copies start at once unless in place. */
  async putPlan(id: string, body: Uint8Array): Promise<void> {
    const plan = decodePlan(body, this.limits.maxPlanOps);
    const digest = toHex(this.kernels.blake3(body));
    const s = await this.sessions.update(id, async (s) => {
      if (s.state.committed) throw new ApiError('PART_CONFLICT', `session ${id} was already committed`);
      if (s.state.plan !== undefined) {
        if (s.state.plan === digest) return null;
        throw new ApiError('PART_CONFLICT', 'the plan was already sent with different bytes');
      }
      if (plan.size !== s.size) throw new ApiError('INVALID_PLAN', `plan size ${plan.size} is not the session's size ${s.size}`);
      if (plan.inPlace !== s.inPlace) throw new ApiError('INVALID_PLAN', `plan inPlace flag ${plan.inPlace} differs from the session's ${s.inPlace}`);
      const oldSize = s.state.basis?.size ?? 0;
      plan.copies.forEach((c, i) => {
        if (c.oldOffset + c.length > oldSize)
          throw new ApiError('INVALID_PLAN', `copy[${i}] reads ${c.oldOffset}..${c.oldOffset + c.length}, beyond the basis size ${oldSize}`);
      });
      // In place, copies run in the plan's order inside the stored file: none may read what an earlier one wrote.
      const unsafe = plan.inPlace ? firstOverwrittenRead(plan.copies) : -1;
      if (unsafe >= 0) {
        const c = plan.copies[unsafe];
        throw new ApiError(
          'INVALID_PLAN',
          `in-place copy[${unsafe}] reads ${c.oldOffset}..${c.oldOffset + c.length}, which an earlier copy overwrites: order copies so each reads before it is overwritten`,
        );
      }
      await this.store.putSessionBlob(s.id, 'plan', body);
      s.state.plan = digest;
      return s;
    });
    if (s && !s.inPlace && s.state.basis && plan.copies.length > 0) {
      this.copies.start(s.id, () => this.store.staging(s.stagingId), s.state.basis, plan.copies);
    }
  }

  /** `POST /v1/sessions/:id/match`: the matches of one signature batch (signatures.ts). */
  match(id: string, body: Uint8Array): Promise<Uint8Array> {
    return this.signatures.match(id, body);
  }

  /** `PUT /v1/sessions/:id/parts/:n`: checks the part number, then lands the part (parts.ts). */
  putPart(s: Session, text: string, body: Uint8Array): Promise<void> {
    const n = Number(text);
    if (!/^\d{1,10}$/.test(text) || n > 0xffffffff)
      throw new ApiError('MALFORMED', `part number ${JSON.stringify(text.slice(0, 20))} is not an integer 0..4294967295`);
    return this.parts.put(s, n, body);
  }

  /** `GET /v1/sessions/:id`: what landed, for a resuming client. */
  status(s: Session): Promise<SessionStatus> {
    return this.sessions.status(s);
  }

  /** `POST /v1/sessions/:id/commit`: the checks, the rebuild and the publish (commit.ts). */
  commit(id: string, json: Record<string, unknown>): Promise<FileInfo> {
    return commitSession(this, id, json);
  }

  /** `GET /v1/files`. */
  list(query: (name: string) => string | undefined): Promise<FileList> {
    return listFiles(this.store, query);
  }

  /** `GET`/`HEAD /v1/files/:key`, whole or ranged (deflated when `deflate` and it pays). */
  read(key: string, method: string, range: string | undefined, deflate = false): Promise<Response> {
    return getFile(this.store, key, method, range, deflate);
  }

  /**
   * `GET /v1/manifests/:key`: the current version's manifest (manifest.ts's
   * binary form) under `chunking` (a chunkingId), else under the first one it
   * was stored with (its commit's); with `digest` (4..32) its short form
   * (lengths and digest prefixes: manifest.ts). Headers name the version,
   * chunking and root. Readers get the chunkings a push stored: a version
   * with none (placed by hand) gets the default built once, and a chunking
   * not stored is 404, so readers cannot fill maxChunkingsPerVersion (a
   * writer's push with another chunking would then be refused). The body is
   * encoded as it streams, from the one decoded manifest in the cache: a
   * stalled reader holds a piece, not an encoding.
   */
  async manifest(key: string, chunking: string | undefined, digest?: string): Promise<Response> {
    const digestBytes = digest === undefined ? 0 : Number(digest);
    if (digest !== undefined && !(/^\d{1,2}$/.test(digest) && digestBytes >= 4 && digestBytes <= 32)) {
      throw new ApiError('INVALID_ARGUMENT', `digest ${JSON.stringify(digest.slice(0, 10))} is not a digest length 4..32`);
    }
    const info = await currentVersion(this.store, key);
    const kept = await this.store.listManifests(key, info.id);
    const id = chunking ?? kept[0] ?? chunkingId(DEFAULT_CHUNKING);
    const spec = this.chunking(parseChunkingId(id) ?? { kind: id });
    if (kept.length > 0 && !kept.includes(chunkingId(spec))) {
      throw new ApiError(
        'NOT_FOUND',
        `${JSON.stringify(key)} at ${info.id} has no manifest under ${chunkingId(spec)} (it has ${kept.join(', ')}); a push with that chunking stores one`,
      );
    }
    this.checkChunks(info.size, spec, `${JSON.stringify(key)}`);
    const entry = await this.manifests.get(key, info.id, spec);
    const encoding = manifestPieces(entry.manifest, digestBytes);
    const pieces = encoding.pieces();
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const next = pieces.next();
          if (next.done) c.close();
          else c.enqueue(next.value as Uint8Array<ArrayBuffer>);
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, {
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(encoding.length),
        'X-Deltaflare-Version': info.id,
        'X-Deltaflare-Chunking': chunkingId(spec),
        'X-Deltaflare-Root': entry.root(this.kernels),
        ...(info.metadata ? { [METADATA_HEADER]: encodeMetadataHeader(info.metadata) } : {}),
      },
    });
  }

  /** `GET /v1/blocks/:key`: digest prefixes of blocks over spans of the current version (blocks.ts). */
  blockDigests(key: string, query: (name: string) => string | undefined): Promise<Response> {
    return getBlockDigests(this.store, this.kernels, this.reads, key, query);
  }

  /** `DELETE /v1/files/:key`, if its version is still `ifMatch` when given. */
  deleteFile(key: string, ifMatch: string | undefined): Promise<void> {
    return this.store.delete(key, ifMatch);
  }

  /** `DELETE /v1/sessions/:id`: drops the record, its blobs and its staging area. */
  async abort(id: string): Promise<void> {
    await this.sessions.locked(id, async () => {
      const s = await this.sessions.load(id).catch((e) => {
        if (e instanceof ApiError && e.code === 'SESSION_EXPIRED') return this.store.getSession(id);
        throw e;
      });
      if (!s) return;
      await this.copies.finished(id);
      if (!s.state?.committed) await (await this.store.staging(s.stagingId).catch(() => null))?.discard();
      await this.store.deleteSession(id);
      this.forget(id);
    });
  }
}
