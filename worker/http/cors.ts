// CORS for browser pages on other origins: a page's push sends Authorization
// and Content-Type (a preflight each), and reads the error code, version and
// range headers of the answers. Default: no origins, no CORS headers.
import { METADATA_HEADER } from '../../core/protocol/metadata.js';
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { RANGE_ENCODING_HEADER } from '../../core/protocol/byteranges.js';

const ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'];
const ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Range', 'If-Match', RANGE_ENCODING_HEADER];
const EXPOSE_HEADERS = [
  'X-Deltaflare-Error',
  'WWW-Authenticate',
  'ETag',
  'Content-Range',
  'Content-Length',
  'Accept-Ranges',
  'Last-Modified',
  'X-Deltaflare-Version',
  'X-Deltaflare-Root',
  'X-Deltaflare-Chunking',
  METADATA_HEADER,
  RANGE_ENCODING_HEADER,
];

/**
 * The CORS middleware for `origins` (exact origins, e.g. "https://app.example"; "*" allows any).
 * @example app.use('/v1/*', corsFor(['https://app.example']))
 */
export const corsFor = (origins: string[]): MiddlewareHandler =>
  cors({
    origin: origins.includes('*') ? '*' : origins,
    allowMethods: ALLOW_METHODS,
    allowHeaders: ALLOW_HEADERS,
    exposeHeaders: EXPOSE_HEADERS,
    maxAge: 600, // preflights cached 10 minutes: a push is mostly PUTs of parts
  });

/**
 * Adds the CORS headers of an actual (non-preflight) answer to a response made
 * outside the app (the Workers entry's own errors), when the request's origin is allowed.
 */
export function withCors(res: Response, req: Request, origins: string[]): Response {
  const origin = req.headers.get('origin');
  if (!origin || res.headers.has('Access-Control-Allow-Origin') || !(origins.includes('*') || origins.includes(origin))) return res;
  const headers = new Headers(res.headers);
  headers.set('Access-Control-Allow-Origin', origins.includes('*') ? '*' : origin);
  headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS.join(','));
  if (!origins.includes('*')) headers.append('Vary', 'Origin');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
