// One Durable Object per client (idFromName of its CF-Connecting-IP): the
// open sessions of that client over every key, so maxSessionsPerClient holds
// across keys (each key's own object only sees its own sessions). A key's
// object asks it to admit a session before creating one (admit), records the
// session once created (opened) and frees it on commit or DELETE (release).
// Sessions that simply expire are not reported: a row past the expiry it was
// recorded with is checked with its key's object when the limit is reached,
// and by an alarm, so an expired session frees its slot without any request.
import { DurableObject } from 'cloudflare:workers';
import type { ClientObjectRpc, Env } from './env.js';
import { splitId } from './session-ids.js';

/** A slot reserved by admit and not yet opened lapses after 60 s (60,000 ms): session creation takes well under that. */
const TICKET_MS = 60_000;

const SCHEMA = 'CREATE TABLE IF NOT EXISTS open (id TEXT PRIMARY KEY, expires INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0)';

/** Tickets (slots reserved by admit) are "t_" ids; opened sessions are client-visible session ids. */
const isTicket = (id: string) => id.startsWith('t_');

/**
 * The Durable Object class bound as CLIENTS.
 * @example const r = await env.CLIENTS.get(env.CLIENTS.idFromName(ip)).admit(64, 2 ** 40, ticket, size)
 */
export class ClientObject extends DurableObject<Env> implements ClientObjectRpc {
  private ready = false;

  /** The table, created on first use (again after alarm() emptied the object); a table made before `bytes` gets it. */
  private get sql(): SqlStorage {
    if (!this.ready) {
      const sql = this.ctx.storage.sql;
      sql.exec(SCHEMA);
      if (
        !sql
          .exec<{ name: string }>('PRAGMA table_info(open)')
          .toArray()
          .some((c) => c.name === 'bytes')
      )
        sql.exec('ALTER TABLE open ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0');
      this.ready = true;
    }
    return this.ctx.storage.sql;
  }

  /**
   * Reserves a slot of `bytes` as `ticket` if fewer than `max` sessions are
   * open and their bytes stay within `maxBytes`; else answers what is open
   * (the caller refuses with TOO_MANY_SESSIONS naming the limit).
   */
  async admit(max: number, maxBytes: number, ticket: string, bytes: number): Promise<{ admitted: true } | { admitted: false; open: number; bytes: number }> {
    const full = () => {
      const { n, b } = this.totals();
      return n >= max || b + bytes > maxBytes;
    };
    if (full()) await this.recheck(Date.now());
    // No await between the check and the insert: two admits cannot both take the last slot.
    if (full()) {
      const { n, b } = this.totals();
      return { admitted: false, open: n, bytes: b };
    }
    this.sql.exec('INSERT OR REPLACE INTO open (id, expires, bytes) VALUES (?, ?, ?)', ticket, Date.now() + TICKET_MS, bytes);
    await this.schedule();
    return { admitted: true };
  }

  /** The session of `ticket` was created as `id` (client-visible), live until `expires` (ms) unless used again. */
  async opened(ticket: string, id: string, expires: number): Promise<void> {
    const bytes = this.sql.exec<{ bytes: number }>('SELECT bytes FROM open WHERE id = ?', ticket).toArray()[0]?.bytes ?? 0;
    this.sql.exec('DELETE FROM open WHERE id = ?', ticket);
    this.sql.exec('INSERT OR REPLACE INTO open (id, expires, bytes) VALUES (?, ?, ?)', id, expires, bytes);
    await this.schedule();
  }

  /** Frees the slot of a ticket (creation failed) or of a session (committed or deleted). */
  async release(id: string): Promise<void> {
    this.sql.exec('DELETE FROM open WHERE id = ?', id);
  }

  /** Open sessions and tickets (tests). */
  async openIds(): Promise<string[]> {
    return this.sql
      .exec<{ id: string }>('SELECT id FROM open ORDER BY id')
      .toArray()
      .map((r) => r.id);
  }

  override async alarm(): Promise<void> {
    await this.recheck(Date.now());
    if (this.count() > 0) return this.schedule(true);
    // Nothing open: drop the table too, so a client seen once keeps no storage.
    await this.ctx.storage.deleteAll();
    this.ready = false;
  }

  private count(): number {
    return this.totals().n;
  }

  /** Open sessions and tickets, and the bytes they reserve. */
  private totals(): { n: number; b: number } {
    return this.sql
      .exec<{ n: number; b: number | null }>('SELECT COUNT(*) AS n, SUM(bytes) AS b FROM open')
      .toArray()
      .map((r) => ({ n: r.n, b: r.b ?? 0 }))[0];
  }

  /**
   * Rows past the expiry they were recorded with: lapsed tickets go; each
   * session is asked of its key's object, which answers its current expiry
   * (requests extend it) or null once it is gone, expired or committed.
   */
  private async recheck(now: number): Promise<void> {
    const due = this.sql
      .exec<{ id: string }>('SELECT id FROM open WHERE expires <= ?', now)
      .toArray()
      .map((r) => r.id);
    await Promise.all(
      due.map(async (id) => {
        const ids = isTicket(id) ? null : splitId(id);
        let expires: number | null = null;
        if (ids) {
          expires = await this.env.KEYS.get(this.env.KEYS.idFromString(ids.object)).sessionExpiry(ids.inner);
        }
        if (expires === null || expires <= now) this.sql.exec('DELETE FROM open WHERE id = ?', id);
        else this.sql.exec('UPDATE open SET expires = ? WHERE id = ?', expires, id);
      }),
    );
  }

  /** Keeps an alarm at the earliest recorded expiry (`replace`: from inside alarm(), where the old one is spent). */
  private async schedule(replace = false): Promise<void> {
    const first = this.sql.exec<{ t: number | null }>('SELECT MIN(expires) AS t FROM open').one().t;
    if (first === null) return;
    const current = replace ? null : await this.ctx.storage.getAlarm();
    if (current === null || first < current) await this.ctx.storage.setAlarm(first);
  }
}
