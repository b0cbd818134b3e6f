// A Worker of your own that serves deltaflare at /v1 and answers other paths
// itself. The Durable Object classes must be exported by the Worker's entry;
// KeyObject is extended here to send every commit to a Queue (COMMITS in
// wrangler.toml), consumed by the same Worker's `queue` handler: the place
// to index, scan or notify once a version is durable.
import deltaflare, { type CommitEvent, KeyObject as DeltaflareKeyObject, type Env as DeltaflareEnv, type Hooks } from 'deltaflare/cloudflare';

export { ClientObject } from 'deltaflare/cloudflare';

/** deltaflare's bindings and yours. */
interface Env extends DeltaflareEnv {
  COMMITS: Queue<CommitEvent>;
}

export class KeyObject extends DeltaflareKeyObject {
  protected override hooks(): Hooks {
    const env = this.env as Env;
    return {
      onCommit: async (c) => {
        await env.COMMITS.send(c);
      },
    };
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname.startsWith('/v1/')) return deltaflare.fetch(request, env);
    return new Response('my app\n');
  },

  async queue(batch: MessageBatch<CommitEvent>): Promise<void> {
    for (const m of batch.messages) {
      console.log(`committed ${m.body.key} ${m.body.version} (${m.body.size} bytes)`, m.body.metadata ?? {});
      m.ack();
    }
  },
} satisfies ExportedHandler<Env, CommitEvent>;
