// The deltaflare endpoint: one Hono app implementing protocol v1
// (docs/protocol.md) over a Store. Runtime-specific code stays out: the Node
// adapter (node.ts) and the Workers entry pass their store and kernels.
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { PROTOCOL_VERSION, type InfoResponse } from '../sdk/protocol/messages.js';
import { access, accessEnabled, type AccessEnv, authorizeKey, authorizeSize } from './auth.js';
import { readJson } from './body.js';
import { ClientSessions } from './client-sessions.js';
import { corsFor } from './cors.js';
import { commitSession } from './commit.js';
import { Endpoint } from './endpoint.js';
import { checkRange } from '../sdk/base/errors.js';
import { ApiError, errorResponse } from './errors.js';
import { getFile, listFiles } from './files.js';
import type { AppOptions } from './options.js';

export type { AppOptions } from './options.js';
export { ApiError } from './errors.js';

/** Options of `createApp`: the endpoint's, plus a handler for paths outside /v1 (the Node adapter's static files). */
export interface CreateAppOptions extends AppOptions {
  /** Serves GET requests outside /v1 (e.g. a static folder); without it they are 404. */
  fallback?: MiddlewareHandler;
}

const octets = { 'Content-Type': 'application/octet-stream' };

/**
 * Builds the endpoint app.
 * @example
 * const app = createApp({ store: new MemoryStore(), kernels: await init() });
 * const res = await app.request('/v1/info');
 */
export function createApp(opts: CreateAppOptions): Hono<AccessEnv> & { endpoint: Endpoint } {
  const ep = new Endpoint(opts);
  const app = new Hono<AccessEnv>();
  const maxSessions = opts.maxSessionsPerClient ?? 64;
  checkRange('maxSessionsPerClient', maxSessions, 1, 1_000_000);
  const clients = new ClientSessions({
    max: maxSessions, maxBytes: ep.limits.maxStagedBytesPerClient, maxTotalBytes: opts.maxStagedBytes,
    ttlMs: ep.limits.sessionTtlSeconds * 1000, now: ep.now, lifetimeMs: ep.limits.maxSessionLifetimeSeconds * 1000,
  });
  // The counts of the sessions a restart left open, once, before the first new session is admitted.
  let restored: Promise<void> | undefined;
  const clientId = opts.clientId ?? ((c) => c.req.header('cf-connecting-ip') ?? '');

  app.onError((e) => errorResponse(e, ep.log));
  app.notFound((c) => errorResponse(new ApiError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)));

  if (opts.allowedHost) {
    const allowed = opts.allowedHost;
    app.use('*', async (c, next) => {
      const host = c.req.header('host') ?? '';
      if (!allowed(host)) throw new ApiError('FORBIDDEN', `Host ${JSON.stringify(host.slice(0, 100))} is not this server's name: an endpoint without a token answers only to its own address (a page on another site could reach it by DNS rebinding)`);
      await next();
    });
  }

  if (opts.corsOrigins?.length) app.use('/v1/*', corsFor(opts.corsOrigins));
  if (accessEnabled(opts.access)) app.use('/v1/*', access(opts.access!, ep.now));

  /** The session of the route's id, once the request may touch its key. */
  const session = async (c: Context<AccessEnv>) => {
    const s = await ep.sessions.load(c.req.param('id')!);
    authorizeKey(c, s.key, 'the session of key');
    return s;
  };

  app.use('/v1/*', async (c, next) => {
    const sweep = ep.maybeSweep();
    if (sweep) opts.waitUntil?.(sweep);
    const session = /^\/v1\/sessions\/([^/]+)/.exec(c.req.path);
    if (session) clients.touched(session[1]);
    await next();
  });

  app.get('/v1/info', (c) => c.json({ protocol: PROTOCOL_VERSION, limits: ep.limits } satisfies InfoResponse));

  app.post('/v1/sessions', async (c) => {
    const body = await readJson(c.req.raw, 'session request');
    authorizeKey(c, body.key); // an upload token names one key
    if (typeof body.size === 'number') authorizeSize(c, body.size); // and may cap the size
    if (typeof body.basis === 'string' && body.basis !== body.key && (opts.access?.protectReads || opts.access?.readToken)) authorizeKey(c, body.basis, 'basis');
    const client = clientId(c);
    await (restored ??= ep.store.listSessions().then((all) => clients.restore(all)));
    const size = Number.isSafeInteger(body.size) && (body.size as number) >= 0 ? (body.size as number) : 0; // createSession refuses a bad one
    clients.admit(client, size);
    if (opts.freeSpace) {
      const free = await opts.freeSpace();
      const staged = clients.staged();
      if (staged + size > free) throw new ApiError('INSUFFICIENT_STORAGE', `a session of ${size} bytes does not fit: the store has ${free} bytes free and ${staged} are reserved by open sessions`);
    }
    const created = await ep.createSession(body, client);
    clients.opened(client, created.id, size, Date.parse(created.expiresAt));
    return c.json(created, 201);
  });

  // Bodies are read within the endpoint's body budget (body-intake.ts).
  app.post('/v1/sessions/:id/match', async (c) => {
    const { id } = await session(c); // 404/410 before reading a body
    // Awaited here, not returned: a body refused before its first byte rejects at once, and workerd reports a rejection not handled in the same turn.
    return await ep.bodies.run(c.req.raw, ep.signatures.maxBody, `signature batch (at most maxSignaturesPerBatch ${ep.limits.maxSignaturesPerBatch} signatures)`, async (body) =>
      new Response((await ep.signatures.match(id, body)) as Uint8Array<ArrayBuffer>, { headers: octets }),
    );
  });

  app.put('/v1/sessions/:id/plan', async (c) => {
    const { id } = await session(c);
    // 24 bytes per copy or dup op, after the 24-byte header.
    await ep.bodies.run(c.req.raw, 24 + 24 * ep.limits.maxPlanOps, `plan (at most maxPlanOps ${ep.limits.maxPlanOps} ops)`, (body) => ep.putPlan(id, body));
    return c.body(null, 204);
  });

  app.put('/v1/sessions/:id/parts/:n', async (c) => {
    const s = await session(c);
    const text = c.req.param('n');
    const n = Number(text);
    if (!/^\d{1,10}$/.test(text) || n > 0xffffffff) throw new ApiError('MALFORMED', `part number ${JSON.stringify(text.slice(0, 20))} is not an integer 0..4294967295`);
    // The part's bytes are written to staging and dropped once it lands, so its buffer can serve the next part.
    const what = `part ${n} (at most partSize ${s.extra.partSize} literal bytes in maxPartOps ${ep.limits.maxPartOps} ops)`;
    await ep.bodies.run(c.req.raw, ep.parts.maxBody(s), what, (body) => ep.parts.put(s, n, body), ep.partBuffers);
    return c.body(null, 204);
  });

  app.get('/v1/sessions/:id', async (c) => c.json(await ep.sessions.status(await session(c))));

  app.post('/v1/sessions/:id/commit', async (c) => {
    const { id } = await session(c);
    const done = await commitSession(ep, id, await readJson(c.req.raw, 'commit request'));
    clients.ended(id);
    return c.json(done);
  });

  app.delete('/v1/sessions/:id', async (c) => {
    const id = c.req.param('id');
    if (c.get('uploadScope') !== undefined) await session(c); // an expired session needs no key check: anyone may end it
    await ep.abort(id);
    clients.ended(id);
    return c.body(null, 204);
  });

  app.get('/v1/files', async (c) => c.json(await listFiles(ep.store, (name) => c.req.query(name))));
  // Hono answers HEAD with the GET route (method still HEAD on the request): getFile sends headers only.
  app.get('/v1/files/:key{.+}', async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    return getFile(ep.store, key, c.req.method, c.req.header('range'));
  });
  app.delete('/v1/files/:key{.+}', async (c) => {
    const key = c.req.param('key');
    authorizeKey(c, key);
    const ifMatch = c.req.header('if-match');
    await ep.store.delete(key, ifMatch ? ifMatch.replace(/^"|"$/g, '') : undefined);
    return c.body(null, 204);
  });

  if (opts.fallback) app.get('*', opts.fallback);
  return Object.assign(app, { endpoint: ep });
}
