// The Node adapter: the app over the fs store, served by @hono/node-server.
import type { Limits } from '../../core/base/limits.js';
import { serve as serveNode } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { init, type Kernels } from '../../core/kernels/index.js';
import { createApp } from './app.js';
import { LOOPBACK } from '../http/hosts.js';
import type { AccessOptions } from '../options.js';
import { join } from 'node:path';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { ACCESS_OPTIONS } from '../options.js';
import { CONNECTION_OPTIONS, type ConnectionLimits, guardConnections } from './connections.js';
import { FsSpool } from './spool.js';
import { FsStore } from '../store/fs/store.js';
import { META_DIR } from '../store/keys.js';

/** Options of `serve`. */
export interface ServeOptions {
  /** Store directory (created if missing). Default './data'. */
  dir?: string;
  /** Default 19876; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1' (loopback only). */
  host?: string;
  /** The wasm kernels; loaded by default. */
  kernels?: Kernels;
  /** Overrides of DEFAULT_LIMITS (part size, sessions per client...). */
  limits?: Partial<Limits>;
  /** A folder served for GET paths outside /v1 (the demo page, later). */
  static?: string;
  /** Tokens for writes and reads (worker/http/auth.ts); default none: open. */
  access?: AccessOptions;
  /** Browser origins allowed to call /v1 (CORS); default none. */
  corsOrigins?: string[];
  /** Open sessions per client address (default 64). */
  maxSessionsPerClient?: number;
  /** Timeouts and socket caps (connections.ts, CONNECTION_DEFAULTS): idle 30 s, stalled response 60 s, 256 sockets per client address. */
  connections?: Partial<ConnectionLimits>;
}

const SERVE_OPTIONS: OptionKeys<ServeOptions> = {
  dir: true,
  port: true,
  host: true,
  kernels: true,
  limits: true,
  static: true,
  access: true,
  corsOrigins: true,
  maxSessionsPerClient: true,
  connections: true,
};

/** A running server. */
export interface ServeHandle {
  /** e.g. "http://127.0.0.1:19876" */
  url: string;
  /** Sockets open now (the guard's count: connections.ts). */
  sockets(): number;
  close(): Promise<void>;
}

/**
 * Starts the endpoint on Node.
 * @example const { url, close } = await serve({ dir: './data', port: 0 })
 */
export async function serve(opts: ServeOptions = {}): Promise<ServeHandle> {
  checkOptions('serve', opts, SERVE_OPTIONS, { token: 'access: { token }', store: 'dir (createApp takes a store)', cors: 'corsOrigins' });
  if (opts.access !== undefined) checkOptions('serve access', opts.access, ACCESS_OPTIONS);
  if (opts.connections !== undefined) checkOptions('serve connections', opts.connections, CONNECTION_OPTIONS);
  const store = await FsStore.open(opts.dir ?? './data');
  const host = opts.host ?? '127.0.0.1';
  // Open beyond loopback is the caller's choice (the CLI warns): every Host is answered then.
  const anyHost = !opts.access?.token && !LOOPBACK.test(host);
  // The free-space check, client address and Host rule are createApp's own (app.ts); the spool is its too, but
  // emptied here at start rather than at first use: a body left by a killed run is dead.
  const app = createApp({
    store,
    spool: await FsSpool.open(join(store.dir, META_DIR, 'spool')),
    kernels: opts.kernels ?? (await init()),
    limits: opts.limits,
    access: opts.access,
    corsOrigins: opts.corsOrigins,
    maxSessionsPerClient: opts.maxSessionsPerClient,
    fallback: opts.static ? serveStatic({ root: opts.static }) : undefined,
    allowedHost: anyHost ? () => true : undefined,
  });
  const server = await new Promise<ReturnType<typeof serveNode>>((resolve, reject) => {
    const s = serveNode({ fetch: (req, env) => closeAfterTooLarge(app.fetch(req, env)), port: opts.port ?? 19876, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const guard = guardConnections(server as Server, opts.connections);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    sockets: guard.sockets,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

export { LOOPBACK } from '../http/hosts.js';

/**
 * A 413 stops reading the body half-way (readBody cancels it), which ends the
 * request stream and with it the socket: "Connection: close" tells the client
 * not to send its next request on that socket.
 */
async function closeAfterTooLarge(res: Response | Promise<Response>): Promise<Response> {
  const r = await res;
  if (r.status !== 413) return r;
  const headers = new Headers(r.headers);
  headers.set('Connection', 'close');
  return new Response(r.body, { status: r.status, headers });
}
