// Access to the endpoint: bearer tokens for writes (and optionally reads),
// upload tokens scoped to one key with an expiry (signed by the server's
// token, so a web app's backend can let one browser push one key), and the
// constant-time comparison both rest on. Web APIs only (crypto.subtle): the
// same code runs on Node and workerd. docs/protocol.md "Access" says the rules.
import type { Context, MiddlewareHandler } from 'hono';
import { hmacSha256Hex, parseUploadToken, UPLOAD_TOKEN_PREFIX, uploadTokenMessage } from '../sdk/protocol/upload-token.js';
import { ApiError } from './errors.js';

export { signUploadToken } from '../sdk/protocol/upload-token.js';

/** Who may do what: no `token` means an open endpoint (development). */
export interface AccessOptions {
  /** Bearer token every write (sessions, DELETE) must carry. Unset: writes are open. */
  token?: string;
  /** Reads (GET/HEAD /v1/files...) need a token: `readToken`, `token` or an upload token of that key. Default false (public reads). */
  protectReads?: boolean;
  /** A token good for reads only; setting it implies `protectReads`. */
  readToken?: string;
}

const enc = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text)));
}

/**
 * Whether two strings are equal, in time that depends on neither: both are
 * hashed to 32 bytes (SHA-256) and the digests compared with an XOR over all
 * 32, so neither a common prefix nor a length difference shows in the timing.
 * @example await timingSafeEqual(given, configured)
 */
export async function timingSafeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256(a), sha256(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** The key an upload token is good for, or FORBIDDEN (a bad signature, a malformed token, or past its expiry). */
export async function verifyUploadToken(secret: string, token: string, nowSeconds: number): Promise<string> {
  const t = parseUploadToken(token);
  if (!t) throw new ApiError('FORBIDDEN', 'upload token is malformed');
  const { key, expires } = t;
  if (!(await timingSafeEqual(t.signature, await hmacSha256Hex(secret, uploadTokenMessage(key, expires))))) throw new ApiError('FORBIDDEN', 'upload token signature does not match (signed with another token, or altered)');
  if (expires <= nowSeconds) throw new ApiError('FORBIDDEN', `upload token for ${JSON.stringify(key)} expired at ${new Date(expires * 1000).toISOString()}`);
  return key;
}

/** Whether the options protect anything (else the middleware is not installed). */
export const accessEnabled = (a: AccessOptions = {}) => Boolean(a.token || a.readToken || a.protectReads);

const scopes = new WeakMap<Request, string>();

/**
 * Throws FORBIDDEN unless the request may touch `key`: requests with the full
 * token may touch any key; those with an upload token only the token's key.
 * The session route calls it once it has read the key from the body.
 */
export function authorizeKey(req: Request, key: unknown, what = 'key'): void {
  const scope = scopes.get(req);
  if (scope !== undefined && key !== scope) throw new ApiError('FORBIDDEN', `upload token is for key ${JSON.stringify(scope)}, not ${what} ${JSON.stringify(key)}`);
}

const unauthorized = (message: string, invalid: boolean) =>
  new ApiError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': invalid ? 'Bearer realm="deltaflare", error="invalid_token"' : 'Bearer realm="deltaflare"' } });

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Whether a request is a read (GET/HEAD of /v1/files...), open (OPTIONS, /v1/info) or a write (the rest: sessions, DELETE). */
export function requestClass(method: string, path: string): 'open' | 'read' | 'write' {
  if (method === 'OPTIONS' || path === '/v1/info') return 'open';
  return (method === 'GET' || method === 'HEAD') && /^\/v1\/files(\/|$)/.test(path) ? 'read' : 'write';
}

/**
 * Checks the Authorization header of a request of class `kind`: null when it
 * passes with a full token (or nothing is protected), the key when it carries
 * a valid upload token; UNAUTHORIZED / FORBIDDEN otherwise. Key scope is the
 * caller's to check (`access` does; the Workers entry checks this much before
 * routing, so a refused request never reaches a Durable Object).
 */
export async function checkToken(kind: 'read' | 'write', header: string | undefined, opts: AccessOptions, nowSeconds: number): Promise<string | null> {
  if (kind === 'read' ? !(opts.protectReads || opts.readToken) : !opts.token) return null;
  const what = kind === 'read' ? 'reads' : 'writes';
  if (!header) throw unauthorized(`this endpoint needs a token for ${what}: send Authorization: Bearer <token>`, false);
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('Authorization is not "Bearer <token>"', true);
  const given = m[1];
  if (given.startsWith(UPLOAD_TOKEN_PREFIX) && opts.token) return verifyUploadToken(opts.token, given, nowSeconds);
  let ok = false;
  const candidates = kind === 'read' ? [opts.token, opts.readToken] : [opts.token];
  for (const t of candidates) if (t) ok = (await timingSafeEqual(given, t)) || ok; // every candidate compared
  if (!ok) throw unauthorized(`the token is not this endpoint's token for ${what}`, true);
  return null;
}

/**
 * The access check for /v1: GET /v1/info and OPTIONS are open; GET/HEAD of
 * files are reads; everything else (sessions, DELETE) is a write. Missing or
 * wrong tokens are UNAUTHORIZED (401 with WWW-Authenticate); an upload token
 * for another key, altered or expired is FORBIDDEN (403). `sessionKey` gives
 * the key of a session, for upload tokens on session requests.
 * @example app.use('/v1/*', access({ token }, (id) => sessions.load(id).then((s) => s.key)))
 */
export function access(opts: AccessOptions, sessionKey: (id: string) => Promise<string>, now: () => number = Date.now): MiddlewareHandler {
  return async (c: Context, next) => {
    const { method, path } = c.req;
    const kind = requestClass(method, path);
    if (kind === 'open') return next();
    const key = await checkToken(kind, c.req.header('authorization'), opts, Math.floor(now() / 1000));
    if (key === null) return next();
    scopes.set(c.req.raw, key);
    const file = /^\/v1\/files(?:\/(.+))?$/.exec(path);
    const session = /^\/v1\/sessions\/([^/]+)/.exec(path);
    if (file) {
      if (file[1] === undefined) throw new ApiError('FORBIDDEN', `upload token for ${JSON.stringify(key)} cannot list files`);
      authorizeKey(c.req.raw, decode(file[1]));
    } else if (session) authorizeKey(c.req.raw, await sessionKey(decode(session[1])), 'the session of key');
    // POST /v1/sessions: the route checks the body's key with authorizeKey.
    return next();
  };
}
