// The Worker entry: requests that change a key go to the key's Durable
// Object (routing.ts); reads are served here straight from R2 by the same
// Hono app over a store without Durable Object state.
import { createApp } from '../app.js';
import type { Env } from './env.js';
import { workerKernels } from './kernels.js';
import { workersLimits } from './limits.js';
import { R2Store } from './r2-store.js';
import { route } from './routing.js';

export { KeyObject } from './key-object.js';

let reader: Promise<ReturnType<typeof createApp>> | undefined;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const routed = await route(request, env);
    if (routed) return routed;
    reader ??= workerKernels().then((kernels) => createApp({ store: new R2Store(env.BUCKET), kernels, limits: workersLimits(env.LIMITS) }));
    return (await reader).fetch(request);
  },
} satisfies ExportedHandler<Env>;
