// A Worker of your own that serves deltaflare at /v1 and answers other paths
// itself. The Durable Object classes must be exported by the Worker's entry.
import deltaflare, { type Env } from 'deltaflare/cloudflare';

export { ClientObject, KeyObject } from 'deltaflare/cloudflare';

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname.startsWith('/v1/')) return deltaflare.fetch(request, env);
    return new Response('my app\n');
  },
};
