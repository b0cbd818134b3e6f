// Open sessions per client: a client (its address, by default) may hold at
// most `max` sessions that are neither committed, aborted nor expired; the
// next POST /v1/sessions is TOO_MANY_SESSIONS (429) naming the limit. Kept in
// memory: a restart forgets the counts (lenient, never wrong the other way).
// On Workers each key's Durable Object counts its own sessions, so there the
// limit is per client and key.
import { ApiError } from './errors.js';

/**
 * Counts open sessions per client.
 * @example const cs = new ClientSessions(64, ttlMs, Date.now); cs.admit('1.2.3.4'); cs.opened('1.2.3.4', id)
 */
export class ClientSessions {
  /** client -> session id -> time (ms) the session expires unless touched. */
  private readonly open = new Map<string, Map<string, number>>();
  private readonly clientOf = new Map<string, string>();

  /** Session id -> the latest it may live to (created + lifetime). */
  private readonly ends = new Map<string, number>();

  constructor(
    readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number,
    /** Absolute session lifetime (maxSessionLifetimeSeconds, in ms); default: none. */
    private readonly lifetimeMs = Infinity,
  ) {}

  /** Throws TOO_MANY_SESSIONS if `client` already holds `max` open sessions. */
  admit(client: string): void {
    const ids = this.live(client);
    if (ids && ids.size >= this.max) {
      throw new ApiError('TOO_MANY_SESSIONS', `client ${client || '(unknown)'} has ${ids.size} open sessions, the limit maxSessionsPerClient ${this.max}: commit or DELETE one, or let one expire (${this.ttlMs / 1000} s after its last request)`);
    }
  }

  /** Records a new session of `client`. */
  opened(client: string, id: string): void {
    let ids = this.open.get(client);
    if (!ids) this.open.set(client, (ids = new Map()));
    this.ends.set(id, this.now() + this.lifetimeMs);
    ids.set(id, this.now() + Math.min(this.ttlMs, this.lifetimeMs));
    this.clientOf.set(id, client);
  }

  /** A request of session `id` extends its life, as the store's expiry does. */
  touched(id: string): void {
    const client = this.clientOf.get(id);
    if (client !== undefined) this.open.get(client)?.set(id, Math.min(this.now() + this.ttlMs, this.ends.get(id) ?? Infinity));
  }

  /** Session `id` was committed or aborted. */
  ended(id: string): void {
    const client = this.clientOf.get(id);
    if (client === undefined) return;
    this.clientOf.delete(id);
    this.ends.delete(id);
    const ids = this.open.get(client);
    ids?.delete(id);
    if (ids?.size === 0) this.open.delete(client);
  }

  /** The open sessions of `client`, expired ones dropped. */
  private live(client: string): Map<string, number> | undefined {
    const ids = this.open.get(client);
    if (!ids) return undefined;
    const t = this.now();
    for (const [id, expires] of ids) if (expires <= t) this.ended(id);
    return this.open.get(client);
  }
}
