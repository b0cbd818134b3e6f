// The Worker entry: requests that change a key go to the key's Durable
// Object (routing.ts); reads are served here straight from R2 by the same
// Hono app over a store without Durable Object state.
import { createApp } from '../http/app.js';
import { checkToken, requestClass } from '../http/auth.js';
import { withCors } from '../http/cors.js';
import { ApiError, errorResponse } from '../errors.js';
import { workerConfig } from './config.js';
import type { Env } from './env.js';
import { workerKernels } from './kernels.js';
import { R2Store } from '../store/r2/store.js';
import { endWithBody, r2Stats } from './r2-stats.js';
import { route } from './routing.js';

export type { Env } from './env.js';
export type { CommitEvent, Hooks, Refusal, SessionCreateEvent, SessionExpireEvent } from '../hooks.js';
export type { Metadata } from '../../core/protocol/metadata.js';
export { ClientObject } from './client-object.js';
export { KeyObject } from './key-object.js';

let reader: Promise<ReturnType<typeof createApp>> | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    let config: ReturnType<typeof workerConfig>;
    try {
      config = workerConfig(env); // checked on the first request, logged, and named in every answer while wrong
    } catch (e) {
      return errorResponse(e);
    }
    const { access, corsOrigins, allowedHost } = config;
    const host = request.headers.get('host') ?? new URL(request.url).host;
    if (allowedHost && !allowedHost(host)) {
      return errorResponse(
        new ApiError(
          'FORBIDDEN',
          `Host ${JSON.stringify(host.slice(0, 100))} is not one this Worker answers: a Worker open for writes (no DELTAFLARE_TOKEN) answers loopback names and ALLOWED_HOSTS only`,
        ),
      );
    }
    // Writes are checked here too (token and signature, not the key scope), so a refused one never reaches a Durable Object.
    const kind = requestClass(request.method, new URL(request.url).pathname);
    if (kind === 'write') {
      try {
        await checkToken(kind, request.headers.get('authorization') ?? undefined, access, Math.floor(Date.now() / 1000));
      } catch (e) {
        return withCors(errorResponse(e), request, corsOrigins);
      }
    }
    const routed = await route(request, env);
    if (routed) return routed.ok ? routed : withCors(routed, request, corsOrigins);
    const stats = r2Stats(env);
    const bucket = stats ? stats.wrap(env.BUCKET) : env.BUCKET;
    reader ??= workerKernels().then((kernels) => createApp({ store: new R2Store(bucket), kernels, limits: config.limits, access, corsOrigins }));
    if (!stats) return (await reader).fetch(request);
    const end = stats.begin(`${request.method} ${new URL(request.url).pathname}`);
    return endWithBody(await (await reader).fetch(request), end);
  },
} satisfies ExportedHandler<Env>;
