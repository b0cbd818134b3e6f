// What an endpoint is built from: a Store, the wasm kernels and its limits.
// The Node adapter passes an fs store and Node-loaded kernels; the Workers
// entry will pass an R2 store and kernels from an imported module.
import { DeltaflareError } from '../core/base/errors.js';
import { checkOptions, type OptionKeys, required } from '../core/base/options.js';
import type { Kernels } from '../core/kernels/api.js';
import type { Limits } from '../core/base/limits.js';
import type { Context } from 'hono';
import type { Spool } from './body-intake.js';
import { HOOK_NAMES, type Hooks } from './hooks.js';
import type { Store } from './store/store.js';

/** Who may do what: no `token` means an open endpoint (development). */
export interface AccessOptions {
  /** Bearer token every write (sessions, DELETE) must carry. Unset: writes are open. */
  token?: string;
  /** Reads (GET/HEAD /v1/files...) need a token: `readToken`, `token` or an upload token of that key. Default false (public reads). */
  protectReads?: boolean;
  /** A token good for reads only; setting it implies `protectReads`. */
  readToken?: string;
  /**
   * The secret upload tokens are signed with (at least MIN_SIGNING_SECRET
   * characters). Unset: the write token signs them, if it is that long;
   * a shorter write token accepts no upload tokens at all.
   */
  uploadSecret?: string;
}

/** Every option of AccessOptions, checked by createApp (core/base/options.ts). */
export const ACCESS_OPTIONS: OptionKeys<AccessOptions> = { token: true, protectReads: true, readToken: true, uploadSecret: true };

/** Options of `createApp` (and the lifecycle hooks of hooks.ts). */
export interface AppOptions extends Hooks {
  /** Where versions live: `await FsStore.open(dir)`, `new MemoryStore()`, or your own Store. */
  store: Store;
  /** The wasm kernels (`await initKernels()`); from `deltaflare/server` they load by default when not given. */
  kernels: Kernels;
  /** Overrides of DEFAULT_LIMITS; checked against WIRE_LIMITS. */
  limits?: Partial<Limits>;
  /** Clock (ms since the epoch); tests move it to expire sessions. Default Date.now. */
  now?: () => number;
  /** Expired sessions are swept (store.sweep) at most this often, on requests (default 60,000 ms; 0 = every request). */
  sweepIntervalMs?: number;
  /**
   * Request bodies (parts, signature batches, plans) held in memory at once, in bytes; more requests wait
   * before reading theirs. Default 12 MiB: one 8 MiB part and a few signature batches (a body larger than
   * the budget runs alone). Two parts at once were no faster on 2 cores and added ~16 MB to the 1 GiB push's peak.
   * Without a `spool`, a part holds its share while it arrives, so a slow client's part delays other clients'
   * parts; with one, bodies still arriving wait there instead (body-intake.ts).
   */
  bodyBudgetBytes?: number;
  /**
   * Inflated part payloads held in memory at once, in bytes (default: the part
   * size, one part). A deflated part of a few KiB may inflate to partSize;
   * parts beyond the budget wait. Memory for bodies is at most
   * bodyBudgetBytes + inflateBudgetBytes.
   */
  inflateBudgetBytes?: number;
  /**
   * Bytes reads hold in memory at once (default 32 MiB): a block-digests
   * request holds its spans' bytes (8 MiB at most) while it hashes them; one
   * that finds no room within 10 s is refused with 503 BUSY and Retry-After.
   * Streamed reads (files, ranges, manifests) hold a piece each and need none.
   */
  readBudgetBytes?: number;
  /** Where request bodies wait while they arrive, outside the budget (body-intake.ts); the Node server passes files in the store's folder. Default none. */
  spool?: Spool;
  /** Basis manifests kept decoded with their weak index, counted in chunks (default 2^20 chunks, ~56 MB at 56 B/chunk). */
  manifestCacheChunks?: number;
  /** Keeps background work (copies run when a plan lands) alive; Workers pass `ctx.waitUntil`. Default: nothing (Node keeps promises alive). */
  waitUntil?: (p: Promise<unknown>) => void;
  /** Tokens for writes and reads (auth.ts); default: none, the endpoint is open (development only). */
  access?: AccessOptions;
  /** Origins (e.g. "https://app.example") whose pages may call /v1 from a browser; default none (no CORS headers). */
  corsOrigins?: string[];
  /** Open (not committed, aborted or expired) sessions one client may hold (default 64). */
  maxSessionsPerClient?: number;
  /** Bytes of file size staged in open sessions over all clients (default: no bound but `freeSpace`). */
  maxStagedBytes?: number;
  /**
   * Bytes free where the store keeps staging areas: a new session must fit
   * in it beside the sessions already open (else 507 INSUFFICIENT_STORAGE).
   * The Node server passes its folder's free space; default: not checked.
   */
  freeSpace?: () => Promise<number>;
  /** Who a request comes from, for maxSessionsPerClient. Default: the CF-Connecting-IP header (set by Cloudflare); the Node adapter passes the socket's address. */
  clientId?: (c: Context) => string;
  /**
   * Refuses (403) requests whose Host header this says is not the server's
   * own name. The Node server sets it when it listens on loopback without a
   * token: a page on another site can then only reach it by DNS rebinding,
   * which sends the attacker's host name.
   */
  allowedHost?: (host: string) => boolean;
  /** Where unexpected errors go (default console.error). */
  log?: (e: unknown) => void;
}

/** Every option of AppOptions (the compiler keeps the list complete). */
export const APP_OPTIONS: OptionKeys<AppOptions> = {
  store: true,
  kernels: true,
  limits: true,
  now: true,
  sweepIntervalMs: true,
  bodyBudgetBytes: true,
  inflateBudgetBytes: true,
  readBudgetBytes: true,
  spool: true,
  manifestCacheChunks: true,
  waitUntil: true,
  access: true,
  corsOrigins: true,
  maxSessionsPerClient: true,
  maxStagedBytes: true,
  freeSpace: true,
  clientId: true,
  allowedHost: true,
  log: true,
  onSessionCreate: true,
  onCommit: true,
  onSessionExpire: true,
};

/** Every option of createApp: the endpoint's, its fallback and its base path. */
export const CREATE_APP_OPTIONS: OptionKeys<AppOptions & { fallback: unknown; basePath: unknown }> = { ...APP_OPTIONS, fallback: true, basePath: true };

/** Names a user may reach for, and where they live. */
export const APP_HINTS: Record<string, string> = {
  token: 'access: { token }',
  readToken: 'access: { readToken }',
  protectReads: 'access: { protectReads }',
  uploadSecret: 'access: { uploadSecret }',
  dir: 'store: await FsStore.open(dir) (serve() takes dir)',
  cors: 'corsOrigins',
  origins: 'corsOrigins',
  init: 'kernels: await initKernels()',
  onUploadCreate: 'onSessionCreate',
  onUploadFinish: 'onCommit',
  onCreate: 'onSessionCreate',
  onFinish: 'onCommit',
};

/**
 * Checks options given to `where` (createApp, the Endpoint): every key known
 * (`known`, AppOptions' by default), `access` too, a store and kernels given.
 * INVALID_ARGUMENT naming the option otherwise: a misspelt `token` must not
 * leave an endpoint open.
 */
export function checkAppOptions(where: string, opts: unknown, known: OptionKeys<object> = APP_OPTIONS): asserts opts is AppOptions {
  checkOptions(where, opts, known, APP_HINTS);
  const o = opts as Partial<AppOptions>;
  required(where, 'a store', o.store, 'store: await FsStore.open(dir), or new MemoryStore() (deltaflare/server)');
  required(where, 'the kernels', o.kernels, 'kernels: await initKernels() (deltaflare/server loads them when not given)');
  for (const name of HOOK_NAMES) {
    if (o[name] !== undefined && typeof o[name] !== 'function') throw new DeltaflareError('INVALID_ARGUMENT', `${where}: ${name} must be a function`);
  }
  if (o.access !== undefined) {
    checkOptions(`${where} access`, o.access, ACCESS_OPTIONS);
    for (const name of ['token', 'readToken', 'uploadSecret'] as const) {
      const v = o.access[name];
      if (v !== undefined && (typeof v !== 'string' || v === '')) {
        throw new DeltaflareError('INVALID_ARGUMENT', `${where}: access.${name} must be a non-empty string (leave it out for none)`);
      }
    }
  }
}
