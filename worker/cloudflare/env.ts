// The bindings of wrangler.toml, as the Worker and its Durable Object see them.

/** What one client's object (client-object.ts) answers over RPC: its open sessions over every key. */
export interface ClientObjectRpc extends Rpc.DurableObjectBranded {
  /** Reserves a slot (and `bytes` of staged size) under `ticket`, unless the client is at `max` sessions or `maxBytes`. */
  admit(max: number, maxBytes: number, ticket: string, bytes: number): Promise<{ admitted: true } | { admitted: false; open: number; bytes: number }>;
  /** The session `id` the ticket's POST created, open until `expires` (ms). */
  opened(ticket: string, id: string, expires: number): Promise<void>;
  /** Frees a ticket's or a session's slot. */
  release(id: string): Promise<void>;
  /** The ids of the client's open sessions. */
  openIds(): Promise<string[]>;
}

/** What one key's object (key-object.ts) answers over RPC besides fetch. */
export interface KeyObjectRpc extends Rpc.DurableObjectBranded {
  /** When session `id` (its inner id) expires (ms), or null when it is gone. */
  sessionExpiry(id: string): Promise<number | null>;
}

/** Bindings and variables of the deltaflare Worker. */
export interface Env {
  /** File versions, manifests and staged literal bytes. */
  BUCKET: R2Bucket;
  /** One SQLite-backed object per key (key-object.ts). */
  KEYS: DurableObjectNamespace<KeyObjectRpc>;
  /** One SQLite-backed object per client address (client-object.ts): its open sessions over every key. */
  CLIENTS: DurableObjectNamespace<ClientObjectRpc>;
  /** Optional JSON overrides of the limits (limits.ts). */
  LIMITS?: string;
  /** Open sessions one client (CF-Connecting-IP) may hold over all keys; default 64 (limits.ts). */
  MAX_SESSIONS_PER_CLIENT?: string;
  /** The write token (a secret: `wrangler secret put DELTAFLARE_TOKEN`). Unset: writes are open. */
  DELTAFLARE_TOKEN?: string;
  /** A read-only token (a secret); setting it protects reads. */
  DELTAFLARE_READ_TOKEN?: string;
  /** Signs upload tokens (a secret, at least 32 characters); unset: the write token does, if it is that long. */
  DELTAFLARE_UPLOAD_SECRET?: string;
  /** "true" protects reads (the write token or an upload token of the key reads too). */
  PROTECT_READS?: string;
  /** Comma-separated browser origins allowed by CORS (e.g. "https://app.example"); default none. */
  CORS_ORIGINS?: string;
  /**
   * Comma-separated host names a Worker open for writes (no DELTAFLARE_TOKEN)
   * answers besides loopback ones (e.g. "files.example.dev"); with a token,
   * every name is answered.
   */
  ALLOWED_HOSTS?: string;
  /** JSON {"at": n, "to": m}: compact a version past n extents down to m (default {"at": 512, "to": 256}; worker/store/r2/compaction.ts). */
  COMPACTION?: string;
  /**
   * A bucket folder ("files/") where each key's current bytes are also kept
   * as one flat object "<FLAT_PREFIX><key>" (metadata "deltaflare-version"),
   * for serving the bucket directly; written in the background after each
   * commit. Unset: none.
   */
  FLAT_PREFIX?: string;
  /** "true" prints each request's R2 calls and bytes (r2-stats.ts), for benchmarks. */
  DELTAFLARE_R2_STATS?: string;
}
