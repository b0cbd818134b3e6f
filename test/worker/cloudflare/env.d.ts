// The bindings the Workers tests see as `env` of cloudflare:test: the
// Worker's own (worker/cloudflare/env.ts), so tests and Worker agree on names.
type DeltaflareEnv = import('../../../worker/cloudflare/env.js').Env;
declare namespace Cloudflare {
  interface Env extends DeltaflareEnv {}
}
