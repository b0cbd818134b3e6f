// Which Durable Object a request goes to. All requests that change a key must
// reach the key's one object (its in-process state: session locks, part
// reservations, copy jobs). A session id the client sees is the object's id
// appended to the app's own: "s_<24 hex>-<64 hex>"; the Worker splits it,
// forwards to that object with the app's id in the path, and rewrites the id
// in the two answers that carry it (POST /v1/sessions, GET /v1/sessions/:id).
import { readBody, MAX_JSON_BYTES } from '../body.js';
import { ApiError, errorResponse } from '../errors.js';
import type { Env } from './env.js';

const OUTER_ID = /^(s_[0-9a-f]{24})-([0-9a-f]{64})$/;

/** The client-visible id of session `inner` held by object `objectId`. @example outerId('s_0…', 'ab…') === 's_0…-ab…' */
export const outerId = (inner: string, objectId: string) => `${inner}-${objectId}`;

/** Splits a client-visible session id; null if it is not one. */
export function splitId(outer: string): { inner: string; object: string } | null {
  const m = OUTER_ID.exec(outer);
  return m ? { inner: m[1], object: m[2] } : null;
}

/** The object of a key. */
export const keyObject = (env: Env, key: string) => env.KEYS.get(env.KEYS.idFromName(key));

/** Replaces the `id` field of a JSON answer (ok answers only; errors pass as they are). */
async function withOuterId(res: Response, objectId: string): Promise<Response> {
  if (!res.ok || !res.headers.get('content-type')?.includes('json')) return res;
  const body = (await res.json()) as { id: string };
  body.id = outerId(body.id, objectId);
  return Response.json(body, { status: res.status, headers: res.headers });
}

/** POST /v1/sessions: the body names the key, so it is read (at most 64 KiB) before choosing the object. */
async function createSession(req: Request, env: Env): Promise<Response | null> {
  const bytes = await readBody(req, MAX_JSON_BYTES, 'session request');
  let key: unknown;
  try {
    key = (JSON.parse(new TextDecoder().decode(bytes)) as { key?: unknown }).key;
  } catch {
    throw new ApiError('MALFORMED', 'session request: the body is not JSON');
  }
  if (typeof key !== 'string') throw new ApiError('INVALID_ARGUMENT', 'key must be a string');
  const stub = keyObject(env, key);
  const res = await stub.fetch(new Request(req.url, { method: 'POST', headers: req.headers, body: bytes }));
  return withOuterId(res, stub.id.toString());
}

/**
 * Forwards a request to its key's object, or answers null when it reads only
 * (info, GET/HEAD of files, list), which the Worker serves itself from R2.
 * @example const res = (await route(request, env)) ?? readOnlyApp.fetch(request)
 */
export async function route(req: Request, env: Env): Promise<Response | null> {
  const url = new URL(req.url);
  const path = url.pathname;
  try {
    if (path === '/v1/sessions' && req.method === 'POST') return await createSession(req, env);
    const m = /^\/v1\/sessions\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const ids = splitId(decodeURIComponent(m[1]));
      if (!ids) throw new ApiError('NOT_FOUND', `no session ${JSON.stringify(m[1].slice(0, 100))}`);
      url.pathname = `/v1/sessions/${ids.inner}${m[2] ?? ''}`;
      let id: DurableObjectId;
      try {
        id = env.KEYS.idFromString(ids.object);
      } catch {
        throw new ApiError('NOT_FOUND', `no session ${JSON.stringify(m[1].slice(0, 100))} (not an object of this namespace)`);
      }
      const res = await env.KEYS.get(id).fetch(new Request(url, req));
      return m[2] === undefined && req.method === 'GET' ? withOuterId(res, ids.object) : res;
    }
    const f = /^\/v1\/files\/(.+)$/.exec(path);
    if (f && req.method === 'DELETE') return await keyObject(env, decodeURIComponent(f[1])).fetch(req);
    return null;
  } catch (e) {
    return errorResponse(e);
  }
}
