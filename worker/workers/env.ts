// The bindings of wrangler.toml, as the Worker and its Durable Object see them.

/** Bindings and variables of the deltaflare Worker. */
export interface Env {
  /** File versions, manifests and staged literal bytes. */
  BUCKET: R2Bucket;
  /** One SQLite-backed object per key (key-object.ts). */
  KEYS: DurableObjectNamespace;
  /** Optional JSON overrides of the limits (limits.ts). */
  LIMITS?: string;
}
