// One Durable Object per key: every request that changes a key (session
// requests, DELETE) reaches the same instance, which holds the endpoint's
// in-process state (session locks, part reservations, manifest cache, copy
// jobs) and serializes commits. Its SQLite holds sessions, staging extents
// and which R2 objects the key's versions hold; bytes live in R2
// (worker/store/r2/store.ts). An alarm compacts a fragmented version step by
// step, sweeps expired sessions and collects unheld objects even when no
// request comes back. Session creation, commit
// and DELETE also go by the client's object (client-limit.ts), which counts
// a client's open sessions over all keys.
import { DurableObject } from 'cloudflare:workers';
import { createApp, Endpoint } from '../http/app.js';
import { ApiError } from '../errors.js';
import type { Hooks } from '../hooks.js';
import type { Session } from '../sessions.js';
import { ClientLimit } from './client-limit.js';
import type { Env, KeyObjectRpc } from './env.js';
import { workerConfig } from './config.js';
import { workerKernels } from './kernels.js';
import { WORKERS_MANIFEST_CACHE_CHUNKS } from '../../core/base/limits.js';
import { R2Store } from '../store/r2/store.js';
import { endWithBody, r2Stats } from './r2-stats.js';

/** Sweeps run at most hourly from the alarm (3,600,000 ms); requests also sweep every minute. */
const ALARM_MS = 3_600_000;
/** A compaction takes one step per alarm, the next one this soon after (100 ms): each invocation stays short, and requests get the object in between. */
const COMPACT_STEP_MS = 100;

/** A session's commit (POST) or its DELETE: a 2xx answer frees the client's slot. */
const ENDING = /^\/v1\/sessions\/(s_[0-9a-f]{24})(\/commit)?$/;

/**
 * The Durable Object class bound as KEYS.
 * @example env.KEYS.get(env.KEYS.idFromName(key)).fetch(request)
 */
export class KeyObject extends DurableObject<Env> implements KeyObjectRpc {
  /** The store of this key (also used by the tests through runInDurableObject). */
  readonly store: R2Store;
  private readonly clients: ClientLimit;
  private served: Promise<{ app: ReturnType<typeof createApp>; endpoint: Endpoint }> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // The entry checked the configuration before routing here (config.ts): it cannot throw now.
    const { limits, maxSessionsPerClient, compaction, flatPrefix } = workerConfig(env);
    const stats = r2Stats(env);
    this.store = new R2Store(stats ? stats.wrap(env.BUCKET) : env.BUCKET, ctx.storage.sql, Date.now, { compaction, flatPrefix });
    this.clients = new ClientLimit(env, ctx.storage.sql, ctx.id.toString(), maxSessionsPerClient, limits.sessionTtlSeconds, limits.maxStagedBytesPerClient);
  }

  /** The app of this object, and the endpoint state behind it (sessions, expiry). */
  private serve(): Promise<{ app: ReturnType<typeof createApp>; endpoint: Endpoint }> {
    this.served ??= workerKernels().then((kernels) => {
      const { limits, access, corsOrigins } = workerConfig(this.env);
      const opts = {
        store: this.store,
        kernels,
        limits,
        manifestCacheChunks: WORKERS_MANIFEST_CACHE_CHUNKS,
        waitUntil: (p: Promise<unknown>) => this.ctx.waitUntil(p),
        access,
        corsOrigins,
        maxSessionsPerClient: this.clients.max,
        ...this.hooks(),
      };
      const endpoint = new Endpoint(opts);
      return { app: createApp(opts, endpoint), endpoint };
    });
    return this.served;
  }

  /**
   * The endpoint's lifecycle hooks (worker/hooks.ts): none here; override in
   * a subclass exported under this class's binding to add yours.
   * @example
   * import { type CommitEvent, type Env, type Hooks, KeyObject as Base } from 'deltaflare/cloudflare';
   * export class KeyObject extends Base {
   *   protected override hooks(): Hooks {
   *     const env = this.env as Env & { COMMITS: Queue<CommitEvent> };
   *     return { onCommit: async (c) => void (await env.COMMITS.send(c)) };
   *   }
   * }
   */
  protected hooks(): Hooks {
    return {};
  }

  override async fetch(request: Request): Promise<Response> {
    const end = r2Stats(this.env)?.begin(`${request.method} ${new URL(request.url).pathname}`);
    const res = await this.answer(request);
    return end ? endWithBody(res, end) : res;
  }

  private async answer(request: Request): Promise<Response> {
    const { app } = await this.serve();
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + ALARM_MS);
    const path = new URL(request.url).pathname;
    if (request.method === 'POST' && path === '/v1/sessions') return this.clients.create(request, async (r) => app.fetch(r));
    const res = await app.fetch(request);
    await drain(request);
    const end = ENDING.exec(path);
    if (end && res.ok && request.method === (end[2] ? 'POST' : 'DELETE')) await this.clients.ended(end[1]);
    if (end?.[2] && res.ok && (await this.store.compactor!.due())) await this.ctx.storage.setAlarm(Date.now() + COMPACT_STEP_MS);
    return res;
  }

  /**
   * RPC of the client objects: when session `id` (this object's, "s_…") now
   * expires (ms), or null if it is gone, expired or committed.
   */
  async sessionExpiry(id: string): Promise<number | null> {
    const s = await (await this.serve()).endpoint.sessions.load(id).catch(() => null);
    if (s && !s.state.committed) return s.expires;
    this.clients.forget(id);
    return null;
  }

  override async alarm(): Promise<void> {
    const end = r2Stats(this.env)?.begin('alarm');
    try {
      await this.onAlarm();
    } finally {
      end?.();
    }
  }

  private async onAlarm(): Promise<void> {
    if (await this.store.compactor!.step()) return void (await this.ctx.storage.setAlarm(Date.now() + COMPACT_STEP_MS));
    const { endpoint } = await this.serve();
    for (const id of await endpoint.sweep(Date.now())) await this.clients.ended(id);
    await this.endOverAge();
    if (this.store.hasState()) await this.ctx.storage.setAlarm(Date.now() + ALARM_MS);
  }

  /**
   * Ends sessions the app refuses as expired although their record's
   * `expires` is still ahead: records written before LIMITS lowered
   * maxSessionLifetimeSeconds. The sweep goes by `expires` alone, so without
   * this their staged bytes would stay up to sessionTtlSeconds (a day) more.
   */
  private async endOverAge(): Promise<void> {
    const ep = (await this.serve()).endpoint;
    for (const id of this.store.sessionIds()) {
      const refused = await ep.sessions.load(id).then(
        () => null,
        (e: unknown) => e,
      );
      if (!(refused instanceof ApiError) || refused.code !== 'SESSION_EXPIRED') continue;
      const record = await this.store.getSession(id);
      await ep.abort(id);
      if (record) await ep.expired(record as Session);
      await this.clients.ended(id);
    }
  }
}

/**
 * Reads what the app left of a forwarded body (an answer given before the
 * body, e.g. a refusal by Content-Length): workerd throws "Can't read from
 * request stream after response has been sent" for a body left unread.
 */
async function drain(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  const reader = request.body.getReader();
  try {
    while (!(await reader.read()).done);
  } catch {
    // the sender went away: nothing left to read
  }
}
