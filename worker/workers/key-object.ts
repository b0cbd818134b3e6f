// One Durable Object per key: every request that changes a key (session
// requests, DELETE) reaches the same instance, which holds the endpoint's
// in-process state (session locks, part reservations, manifest cache, copy
// jobs) and serializes commits. Its SQLite holds sessions, staging extents
// and multipart ETags; bytes live in R2 (r2-store.ts). An alarm sweeps
// expired sessions even when no request comes back.
import { DurableObject } from 'cloudflare:workers';
import { createApp } from '../app.js';
import { accessOf, corsOf, type Env } from './env.js';
import { workerKernels } from './kernels.js';
import { WORKERS_MANIFEST_CACHE_CHUNKS, workersLimits } from './limits.js';
import { R2Store } from './r2-store.js';

/** Sweeps run at most hourly from the alarm (3,600,000 ms); requests also sweep every minute. */
const ALARM_MS = 3_600_000;

/**
 * The Durable Object class bound as KEYS.
 * @example env.KEYS.get(env.KEYS.idFromName(key)).fetch(request)
 */
export class KeyObject extends DurableObject<Env> {
  /** The store of this key (also used by the tests through runInDurableObject). */
  readonly store: R2Store;
  private app: Promise<ReturnType<typeof createApp>> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new R2Store(env.BUCKET, ctx.storage.sql);
  }

  override async fetch(request: Request): Promise<Response> {
    this.app ??= workerKernels().then((kernels) =>
      createApp({
        store: this.store, kernels, limits: workersLimits(this.env.LIMITS), manifestCacheChunks: WORKERS_MANIFEST_CACHE_CHUNKS,
        waitUntil: (p) => this.ctx.waitUntil(p), access: accessOf(this.env), corsOrigins: corsOf(this.env),
      }),
    );
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + ALARM_MS);
    return (await this.app).fetch(request);
  }

  override async alarm(): Promise<void> {
    await this.store.sweep(Date.now());
    if (this.store.hasState()) await this.ctx.storage.setAlarm(Date.now() + ALARM_MS);
  }
}
