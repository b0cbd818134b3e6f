// The endpoint's HTTP surface: one Hono app implementing protocol v1
// (docs/protocol.md) over an Endpoint. Runtime-specific code stays out: the
// Node adapter (worker/node/) and the Workers entry (worker/cloudflare/) pass
// their store and kernels.
import { Hono, type MiddlewareHandler } from 'hono';
import { PROTOCOL_VERSION, type InfoResponse } from '../../core/protocol/messages.js';
import { DEFLATE_RAW, RANGE_ENCODING_HEADER } from '../../core/protocol/byteranges.js';
import { access, accessEnabled, type AccessEnv, authorizeKey, authorizeSize, protocolPath } from './auth.js';
import type { Session } from '../sessions.js';
import { readJson } from '../body.js';
import { ClientSessions } from './client-sessions.js';
import { corsFor } from './cors.js';
import { Endpoint } from '../endpoint.js';
import { checkRange } from '../../core/base/errors.js';
import { bodyCaps, ENDPOINT_DEFAULTS, MAX_SESSIONS_PER_CLIENT_RANGE } from '../../core/base/limits.js';
import { ApiError, errorResponse } from '../errors.js';
import { type AppOptions, CREATE_APP_OPTIONS, checkAppOptions } from '../options.js';

export type { AppOptions } from '../options.js';
export { ApiError } from '../errors.js';
export { Endpoint } from '../endpoint.js';

/** What the app's routes hand each other: AccessEnv's, plus the session of the path and the request's body. */
type AppEnv = AccessEnv & { Variables: AccessEnv['Variables'] & { session: Session; body: Uint8Array } };

/** Options of `createApp`: the endpoint's, plus a handler for paths outside /v1 (the Node adapter's static files). */
export interface CreateAppOptions extends AppOptions {
  /** Serves GET requests outside /v1 (e.g. a static folder); without it they are 404. */
  fallback?: MiddlewareHandler;
  /**
   * The path the app answers under when it sees whole request paths (served
   * by Node's http under a prefix): '/sync' answers '/sync/v1/...'. Not needed
   * with `hono.route('/sync', app)`, which prefixes the routes itself.
   */
  basePath?: string;
}

const octets = { 'Content-Type': 'application/octet-stream' };

/** A file's route: its key is the rest of the path, slashes included (the Worker's routing decodes DELETE's with it too). */
export const FILE_ROUTE = '/v1/files/:key{.+}';

/**
 * Builds the endpoint app. Pass `endpoint` to keep a handle on its state
 * (the Workers key object sweeps and counts sessions through it).
 * @example
 * const app = createApp({ store: new MemoryStore(), kernels: await init() });
 * const res = await app.request('/v1/info');
 */
export function createApp(opts: CreateAppOptions, endpoint?: Endpoint): Hono<AppEnv> {
  checkAppOptions('createApp', opts, CREATE_APP_OPTIONS);
  const { fallback: _fallback, basePath: _basePath, ...endpointOptions } = opts;
  const ep = endpoint ?? new Endpoint(endpointOptions);
  const app = opts.basePath ? new Hono<AppEnv>().basePath(opts.basePath) : new Hono<AppEnv>();
  const clients = clientSessionsOf(opts, ep);
  app.onError((e) => errorResponse(e, ep.log));
  app.notFound((c) => errorResponse(new ApiError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));
  guard(app, opts, ep, clients);
  sessionRoutes(app, opts, ep, clients);
  fileRoutes(app, ep);
  if (opts.fallback) app.get('*', opts.fallback);
  return app;
}

/** Open sessions and staged bytes per client, within the options' bounds. */
function clientSessionsOf(opts: CreateAppOptions, ep: Endpoint): ClientSessions {
  const maxSessions = opts.maxSessionsPerClient ?? ENDPOINT_DEFAULTS.maxSessionsPerClient;
  checkRange('maxSessionsPerClient', maxSessions, ...MAX_SESSIONS_PER_CLIENT_RANGE);
  return new ClientSessions({
    max: maxSessions,
    maxBytes: ep.limits.maxStagedBytesPerClient,
    maxTotalBytes: opts.maxStagedBytes,
    ttlMs: ep.limits.sessionTtlSeconds * 1000,
    now: ep.now,
    lifetimeMs: ep.limits.maxSessionLifetimeSeconds * 1000,
  });
}

/** What every request passes first: the Host check of an open endpoint, CORS, access, and the sweep of expired sessions. */
function guard(app: Hono<AppEnv>, opts: CreateAppOptions, ep: Endpoint, clients: ClientSessions): void {
  if (opts.allowedHost) {
    const allowed = opts.allowedHost;
    app.use('*', async (c, next) => {
      const host = c.req.header('host') ?? '';
      if (!allowed(host))
        throw new ApiError(
          'FORBIDDEN',
          `Host ${JSON.stringify(host.slice(0, 100))} is not this server's name: an endpoint without a token answers only to its own address (a page on another site could reach it by DNS rebinding)`,
        );
      await next();
    });
  }
  if (opts.corsOrigins?.length) app.use('/v1/*', corsFor(opts.corsOrigins));
  if (accessEnabled(opts.access)) app.use('/v1/*', access(opts.access!, ep.now));
  app.use('/v1/*', async (c, next) => {
    const sweep = ep.maybeSweep();
    if (sweep) opts.waitUntil?.(sweep);
    const session = /^\/v1\/sessions\/([^/]+)/.exec(protocolPath(c));
    if (session) clients.touched(session[1]);
    await next();
  });
}

/** Loads the session of the route's id (404/410 before any body is read), once the request may touch its key. */
const sessionOf =
  (ep: Endpoint): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const s = await ep.sessions.load(c.req.param('id')!);
    authorizeKey(c, s.key, 'the session of key');
    c.set('session', s);
    await next();
  };

/**
 * Reads a binary body within its cap (bodyCaps: TOO_LARGE naming the limit)
 * and the endpoint's body budget, which it holds until the route answers.
 */
const bodyOf =
  (ep: Endpoint, kind: 'signatures' | 'plan' | 'part'): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const l = ep.limits;
    const s = c.get('session');
    const cap = bodyCaps(l, s.state.partSize)[kind];
    const what = {
      signatures: `signature batch (at most maxSignaturesPerBatch ${l.maxSignaturesPerBatch} signatures)`,
      plan: `plan (at most maxPlanOps ${l.maxPlanOps} ops)`,
      part: `part ${c.req.param('n')} (at most partSize ${s.state.partSize} literal bytes in maxPartOps ${l.maxPartOps} ops)`,
    }[kind];
    // The part's bytes are written to staging and dropped once it lands, so its buffer can serve the next part.
    // Awaited, not returned: a body refused before its first byte rejects at once, and workerd reports a rejection not handled in the same turn.
    await ep.bodies.run(
      c.req.raw,
      cap,
      what,
      async (bytes) => {
        c.set('body', bytes);
        await next();
      },
      kind === 'part' ? ep.partBuffers : undefined,
    );
  };

/** /v1/info and the session routes: open, match, plan, parts, status, commit, abort. */
function sessionRoutes(app: Hono<AppEnv>, opts: CreateAppOptions, ep: Endpoint, clients: ClientSessions): void {
  const session = sessionOf(ep);
  // The counts of the sessions a restart left open, once, before the first new session is admitted.
  let restored: Promise<void> | undefined;
  const clientId = opts.clientId ?? ((c) => c.req.header('cf-connecting-ip') ?? '');
  app.get('/v1/info', (c) => c.json({ protocol: PROTOCOL_VERSION, limits: ep.limits } satisfies InfoResponse));

  app.post('/v1/sessions', async (c) => {
    const req = await readJson(c.req.raw, 'session request');
    authorizeKey(c, req.key); // an upload token names one key
    if (typeof req.size === 'number') authorizeSize(c, req.size); // and may cap the size
    if (typeof req.basis === 'string' && req.basis !== req.key && (opts.access?.protectReads || opts.access?.readToken)) authorizeKey(c, req.basis, 'basis');
    const client = clientId(c);
    restored ??= ep.store.listSessions().then((all) => clients.restore(all));
    await restored;
    const size = Number.isSafeInteger(req.size) && (req.size as number) >= 0 ? (req.size as number) : 0; // createSession refuses a bad one
    clients.admit(client, size);
    if (opts.freeSpace) {
      const free = await opts.freeSpace();
      const staged = clients.staged();
      if (staged + size > free)
        throw new ApiError(
          'INSUFFICIENT_STORAGE',
          `a session of ${size} bytes does not fit: the store has ${free} bytes free and ${staged} are reserved by open sessions`,
        );
    }
    const created = await ep.createSession(req, client, c.req.raw);
    clients.opened(client, created.id, size, Date.parse(created.expiresAt));
    return c.json(created, 201);
  });

  app.post('/v1/sessions/:id/match', session, bodyOf(ep, 'signatures'), async (c) =>
    c.body((await ep.match(c.get('session').id, c.get('body'))) as Uint8Array<ArrayBuffer>, 200, octets),
  );

  app.put('/v1/sessions/:id/plan', session, bodyOf(ep, 'plan'), async (c) => {
    await ep.putPlan(c.get('session').id, c.get('body'));
    return c.body(null, 204);
  });

  app.put('/v1/sessions/:id/parts/:n', session, bodyOf(ep, 'part'), async (c) => {
    await ep.putPart(c.get('session'), c.req.param('n'), c.get('body'));
    return c.body(null, 204);
  });

  app.get('/v1/sessions/:id', session, async (c) => c.json(await ep.status(c.get('session'))));

  app.post('/v1/sessions/:id/commit', session, async (c) => {
    const { id } = c.get('session');
    const done = await ep.commit(id, await readJson(c.req.raw, 'commit request'));
    clients.ended(id);
    return c.json(done);
  });

  app.delete(
    '/v1/sessions/:id',
    async (c, next) => {
      // An expired session needs no key check: anyone may end it.
      if (c.get('uploadScope') !== undefined) return session(c, next);
      await next();
    },
    async (c) => {
      const id = c.req.param('id');
      await ep.abort(id);
      clients.ended(id);
      return c.body(null, 204);
    },
  );
}

/** The file routes: list, read (GET and HEAD, ranges), manifests, block digests, delete. */
function fileRoutes(app: Hono<AppEnv>, ep: Endpoint): void {
  app.get('/v1/files', async (c) => c.json(await ep.list((name) => c.req.query(name))));
  // Hono answers HEAD with the GET route (method still HEAD on the request): getFile sends headers only.
  app.get(FILE_ROUTE, async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    return ep.read(key, c.req.method, c.req.header('range'), c.req.header(RANGE_ENCODING_HEADER) === DEFLATE_RAW);
  });
  app.get('/v1/manifests/:key{.+}', async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    return ep.manifest(key, c.req.query('chunking'), c.req.query('digest'));
  });
  app.get('/v1/blocks/:key{.+}', async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    return ep.blockDigests(key, (name) => c.req.query(name));
  });
  app.delete(FILE_ROUTE, async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    const ifMatch = c.req.header('if-match');
    await ep.deleteFile(key, ifMatch ? ifMatch.replace(/^"|"$/g, '') : undefined);
    return c.body(null, 204);
  });
}
