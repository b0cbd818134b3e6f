// Access to the endpoint: bearer tokens for writes (and optionally reads),
// upload tokens scoped to one key with an expiry (signed by the server's
// token, so a web app's backend can let one browser push one key), and the
// constant-time comparison both rest on. Web APIs only (crypto.subtle): the
// same code runs on Node and workerd. docs/protocol.md "Access" says the rules.
import type { Context, Env, MiddlewareHandler } from 'hono';
import {
  hmacSha256Hex,
  MIN_SIGNING_SECRET,
  parseUploadToken,
  UPLOAD_TOKEN_PREFIX,
  uploadSigningKey,
  uploadTokenMessage,
} from '../../core/protocol/upload-token.js';
import { ApiError } from '../errors.js';
import type { AccessOptions } from '../options.js';

export { signUploadToken } from '../../core/protocol/upload-token.js';

/** What an upload token allows: one key, and files of at most `maxSize` bytes when it says so. */
export interface UploadScope {
  key: string;
  maxSize?: number;
}

/** The secret that signs upload tokens for these options, or undefined when none may (no secret long enough). */
export function uploadSecretOf(opts: AccessOptions): string | undefined {
  const secret = opts.uploadSecret ?? opts.token;
  return secret && secret.length >= MIN_SIGNING_SECRET ? secret : undefined;
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

/** What an upload token allows, or FORBIDDEN (a bad signature, a malformed token, or past its expiry). */
export async function verifyUploadToken(secret: string, token: string, nowSeconds: number): Promise<UploadScope> {
  const t = parseUploadToken(token);
  if (!t) throw new ApiError('FORBIDDEN', 'upload token is malformed');
  const { key, expires, maxSize } = t;
  const expected = await hmacSha256Hex(await uploadSigningKey(secret), uploadTokenMessage(key, expires, maxSize));
  if (!(await timingSafeEqual(t.signature, expected)))
    throw new ApiError('FORBIDDEN', 'upload token signature does not match (signed with another secret, or altered)');
  if (expires <= nowSeconds) throw new ApiError('FORBIDDEN', `upload token for ${JSON.stringify(key)} expired at ${new Date(expires * 1000).toISOString()}`);
  return maxSize === undefined ? { key } : { key, maxSize };
}

/** Whether the options protect anything (else the middleware is not installed). */
export const accessEnabled = (a: AccessOptions = {}) => Boolean(a.token || a.readToken || a.protectReads);

/** The request state `access` leaves for the routes: what an upload token allows (unset: any key, any size). */
export interface AccessVariables {
  uploadScope?: UploadScope;
}

/** Hono's environment of an app that runs `access`. */
export type AccessEnv = Env & { Variables: AccessVariables };

/**
 * Throws FORBIDDEN unless the request may touch `key`: requests with the full
 * token may touch any key; those with an upload token only the token's key.
 * Routes call it with exactly the key they act on (the body's, the route
 * parameter as the router decoded it, or the session's), so the check and
 * the action can never see two spellings of one key.
 */
export function authorizeKey<E extends AccessEnv>(c: Context<E>, key: unknown, what = 'key'): void {
  const scope = c.get('uploadScope') as UploadScope | undefined;
  if (scope !== undefined && key !== scope.key)
    throw new ApiError('FORBIDDEN', `upload token is for key ${JSON.stringify(scope.key)}, not ${what} ${JSON.stringify(key)}`);
}

/** Throws FORBIDDEN if the request's upload token caps the size below `size`. */
export function authorizeSize<E extends AccessEnv>(c: Context<E>, size: number): void {
  const max = (c.get('uploadScope') as UploadScope | undefined)?.maxSize;
  if (max !== undefined && size > max) throw new ApiError('FORBIDDEN', `upload token allows files of at most ${max} bytes, not ${size}`);
}

const unauthorized = (message: string, invalid: boolean) =>
  new ApiError('UNAUTHORIZED', message, {
    headers: { 'WWW-Authenticate': invalid ? 'Bearer realm="deltaflare", error="invalid_token"' : 'Bearer realm="deltaflare"' },
  });

/** Whether a request is a read (GET/HEAD of /v1/files..., /v1/manifests/... and /v1/blocks/...), open (OPTIONS, /v1/info) or a write (the rest: sessions, DELETE). */
export function requestClass(method: string, path: string): 'open' | 'read' | 'write' {
  if (method === 'OPTIONS' || path === '/v1/info') return 'open';
  return (method === 'GET' || method === 'HEAD') && /^\/v1\/(files|manifests|blocks)(\/|$)/.test(path) ? 'read' : 'write';
}

/**
 * Checks the Authorization header of a request of class `kind`: null when it
 * passes with a full token (or nothing is protected), the key when it carries
 * a valid upload token; UNAUTHORIZED / FORBIDDEN otherwise. Key scope is the
 * caller's to check (`access` does; the Workers entry checks this much before
 * routing, so a refused request never reaches a Durable Object).
 */
export async function checkToken(kind: 'read' | 'write', header: string | undefined, opts: AccessOptions, nowSeconds: number): Promise<UploadScope | null> {
  if (kind === 'read' ? !(opts.protectReads || opts.readToken) : !opts.token) return null;
  const what = kind === 'read' ? 'reads' : 'writes';
  if (!header) throw unauthorized(`this endpoint needs a token for ${what}: send Authorization: Bearer <token>`, false);
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('Authorization is not "Bearer <token>"', true);
  const given = m[1];
  if (given.startsWith(UPLOAD_TOKEN_PREFIX) && opts.token) {
    const secret = uploadSecretOf(opts);
    if (!secret)
      throw new ApiError(
        'FORBIDDEN',
        `this endpoint accepts no upload tokens: its write token has fewer than ${MIN_SIGNING_SECRET} characters and it has no upload secret`,
      );
    return verifyUploadToken(secret, given, nowSeconds);
  }
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
 * altered or expired is FORBIDDEN (403), and its key is left in the context
 * (`uploadScope`) for the routes' authorizeKey.
 * @example app.use('/v1/*', access({ token }))
 */
export function access(opts: AccessOptions, now: () => number = Date.now): MiddlewareHandler<AccessEnv> {
  return async (c, next) => {
    const path = protocolPath(c);
    const kind = requestClass(c.req.method, path);
    if (kind === 'open') return next();
    const scope = await checkToken(kind, c.req.header('authorization'), opts, Math.floor(now() / 1000));
    if (scope === null) return next();
    if (/^\/v1\/files\/?$/.test(path)) throw new ApiError('FORBIDDEN', `upload token for ${JSON.stringify(scope.key)} cannot list files`);
    c.set('uploadScope', scope);
    return next();
  };
}

/**
 * The request's path below where the app is mounted, for middleware
 * registered on '/v1/*': an app mounted with `app.route('/sync', df)` sees
 * '/sync/v1/info', which this answers as '/v1/info'.
 * @example protocolPath(c) === '/v1/files/a.bin'
 */
export function protocolPath(c: Context): string {
  const route = c.req.routePath;
  const base = route.endsWith('/v1/*') ? route.slice(0, -'/v1/*'.length) : '';
  return c.req.path.slice(base.length);
}
