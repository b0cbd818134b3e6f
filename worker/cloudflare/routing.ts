// Which Durable Object a request goes to. All requests that change a key must
// reach the key's one object (its in-process state: session locks, part
// reservations, copy jobs). A session id the client sees is the object's id
// appended to the app's own: "s_<24 hex>-<64 hex>"; the Worker splits it,
// forwards to that object with the app's id in the path, and rewrites the id
// in the two answers that carry it (POST /v1/sessions, GET /v1/sessions/:id).
import { Hono } from 'hono';
import { FILE_ROUTE } from '../http/app.js';
import { readJson } from '../body.js';
import { ApiError, errorResponse } from '../errors.js';
import type { Env } from './env.js';
import { checkR2Key } from '../store/r2/store.js';
import { outerId, splitId } from './session-ids.js';

/** The object of a key. */
export const keyObject = (env: Env, key: string) => env.KEYS.get(env.KEYS.idFromName(key));

/** Replaces the `id` field of a JSON answer (ok answers only; errors pass as they are). */
async function withOuterId(res: Response, objectId: string): Promise<Response> {
  if (!res.ok || !res.headers.get('content-type')?.includes('json')) return res;
  const body = (await res.json()) as { id: string };
  body.id = outerId(body.id, objectId);
  return Response.json(body, { status: res.status, headers: res.headers });
}

/**
 * POST /v1/sessions: the body names the key, so it is read (as the app
 * reads it: at most 64 KiB, a JSON object) before choosing the object. A
 * key that could never be stored is refused here: no object is made for it.
 */
async function createSession(req: Request, env: Env): Promise<Response | null> {
  const body = await readJson(req, 'session request');
  if (typeof body.key !== 'string') throw new ApiError('INVALID_ARGUMENT', 'key must be a string');
  checkR2Key(body.key);
  const stub = keyObject(env, body.key);
  const headers = new Headers(req.headers);
  headers.delete('content-length'); // the body is sent again, re-encoded
  const res = await stub.fetch(new Request(req.url, { method: 'POST', headers, body: JSON.stringify(body) }));
  return withOuterId(res, stub.id.toString());
}

/** The app's DELETE route alone: a key decoded by it is the key the app will see (Hono's path and parameter decoding, whatever its version). */
const deleteRoute = new Hono().delete(FILE_ROUTE, (c) => c.json({ key: c.req.param('key') }));

/** The key of DELETE /v1/files/:key, so the Worker picks that key's object; null when the route does not match (the app answers 404). */
async function fileKey(req: Request): Promise<string | null> {
  const res = await deleteRoute.fetch(new Request(req.url, { method: 'DELETE' }));
  return res.status === 200 ? ((await res.json()) as { key: string }).key : null;
}

/** A session id from the path: malformed percent escapes are no session (404), never an exception (500). */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('NOT_FOUND', `no session ${JSON.stringify(raw.slice(0, 100))}`);
  }
}

/**
 * Forwards a request to its key's object, or answers null when it reads only
 * (info, GET/HEAD of files, list), which the Worker serves itself from R2.
 * @example const res = (await route(request, env)) ?? (await reader).fetch(request, env)
 */
export async function route(req: Request, env: Env): Promise<Response | null> {
  const url = new URL(req.url);
  const path = url.pathname;
  try {
    if (path === '/v1/sessions' && req.method === 'POST') return await createSession(req, env);
    const m = /^\/v1\/sessions\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const ids = splitId(decodeId(m[1]));
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
    const key = req.method === 'DELETE' && path.startsWith('/v1/files/') ? await fileKey(req) : null;
    if (key === null) return null;
    checkR2Key(key);
    return await keyObject(env, key).fetch(req);
  } catch (e) {
    return errorResponse(e);
  }
}
