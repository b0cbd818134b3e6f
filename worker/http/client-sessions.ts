// What one client may hold open: at most `max` sessions that are neither
// committed, aborted nor expired, and at most `maxBytes` of file size staged
// in them (a session's size is reserved when it opens: its staging area
// fills to that size by its commit, from parts, copies and dups, so a few
// KiB of requests cannot stage more than the reservation), and all clients
// together at most `maxTotalBytes`. Beyond either, POST /v1/sessions is
// TOO_MANY_SESSIONS (429) naming the limit. Kept in memory and restored from
// the store's sessions when the endpoint starts (a session records its
// client), so a restart forgets nothing. On Workers the client's Durable
// Object (workers/client-object.ts) counts over all keys instead.
import { ApiError } from '../errors.js';
import type { SessionRecord } from '../store/store.js';

/** One open session, as counted. */
interface Held {
  client: string;
  bytes: number;
  /** ms: when it expires unless touched, and the latest it may live to. */
  expires: number;
  end: number;
}

/**
 * Counts open sessions and their staged bytes per client.
 * @example const cs = new ClientSessions({ max: 64, maxBytes, ttlMs, now: Date.now }); cs.admit('1.2.3.4', size); cs.opened('1.2.3.4', id, size, Date.now() + ttlMs)
 */
export class ClientSessions {
  private readonly held = new Map<string, Held>();
  readonly max: number;
  readonly maxBytes: number;
  readonly maxTotalBytes: number;
  private readonly ttlMs: number;
  private readonly lifetimeMs: number;
  private readonly now: () => number;

  constructor(o: {
    /** Open sessions per client (maxSessionsPerClient). */
    max: number;
    /** Bytes of file size staged per client (maxStagedBytesPerClient). */
    maxBytes: number;
    /** Bytes staged over all clients (AppOptions.maxStagedBytes); default no bound but the disk's. */
    maxTotalBytes?: number;
    ttlMs: number;
    now: () => number;
    /** Absolute session lifetime (maxSessionLifetimeSeconds, in ms); default: none. */
    lifetimeMs?: number;
  }) {
    this.max = o.max;
    this.maxBytes = o.maxBytes;
    this.maxTotalBytes = o.maxTotalBytes ?? Infinity;
    this.ttlMs = o.ttlMs;
    this.lifetimeMs = o.lifetimeMs ?? Infinity;
    this.now = o.now;
  }

  /** Throws TOO_MANY_SESSIONS if a session of `size` bytes would take `client`, or everyone, past a limit. */
  admit(client: string, size: number): void {
    const mine = this.live().filter((h) => h.client === client);
    const who = `client ${client || '(unknown)'}`;
    const until = `commit or DELETE one, or let one expire (${this.ttlMs / 1000} s after its last request)`;
    if (mine.length >= this.max) {
      throw new ApiError('TOO_MANY_SESSIONS', `${who} has ${mine.length} open sessions, the limit maxSessionsPerClient ${this.max}: ${until}`);
    }
    const bytes = mine.reduce((n, h) => n + h.bytes, 0);
    if (bytes + size > this.maxBytes) {
      throw new ApiError(
        'TOO_MANY_SESSIONS',
        `${who} has ${bytes} bytes staged in open sessions; ${size} more would pass the limit maxStagedBytesPerClient ${this.maxBytes}: ${until}`,
      );
    }
    const total = this.staged();
    if (total + size > this.maxTotalBytes) {
      throw new ApiError(
        'TOO_MANY_SESSIONS',
        `${total} bytes are staged in open sessions; ${size} more would pass the server's limit maxStagedBytes ${this.maxTotalBytes}: try again later`,
      );
    }
  }

  /** Bytes reserved by every open session. */
  staged(): number {
    return this.live().reduce((n, h) => n + h.bytes, 0);
  }

  /** Records a new session of `client`, created at `created`, expiring at `expires` (ms) unless touched. */
  opened(client: string, id: string, bytes: number, expires: number, created = this.now()): void {
    const end = created + this.lifetimeMs;
    this.held.set(id, { client, bytes, end, expires: Math.min(expires, end) });
  }

  /** A request of session `id` extends its life, as the store's expiry does. */
  touched(id: string): void {
    const h = this.held.get(id);
    if (h) h.expires = Math.min(this.now() + this.ttlMs, h.end);
  }

  /** Session `id` was committed or aborted. */
  ended(id: string): void {
    this.held.delete(id);
  }

  /** The open sessions of the store (a restart): those that name their client and are not committed or expired. */
  restore(records: SessionRecord[]): void {
    for (const r of records) {
      const client = r.state?.client;
      if (typeof client !== 'string' || r.state?.committed || r.lost || r.expires <= this.now()) continue;
      this.opened(client, r.id, r.size, r.expires, r.created);
    }
  }

  /** Open sessions, expired ones dropped. */
  private live(): Held[] {
    const t = this.now();
    for (const [id, h] of this.held) if (h.expires <= t || h.end <= t) this.held.delete(id);
    return [...this.held.values()];
  }
}
