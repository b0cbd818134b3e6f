// maxSessionsPerClient across keys, from a key's Durable Object: before its
// app creates a session, the client's object (client-object.ts) must admit
// it; a commit or DELETE frees the slot. The key's object remembers which
// client opened each of its sessions (a small table in its SQLite), since a
// later request of the session may come from another address.
import type { CreateSessionResponse } from '../../core/protocol/messages.js';
import { toHex } from '../../core/protocol/hex.js';
import { ApiError, errorResponse } from '../errors.js';
import type { ClientObjectRpc, Env } from './env.js';
import { outerId } from './session-ids.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS session_clients (id TEXT PRIMARY KEY, client TEXT NOT NULL)';

/** Who a request comes from: Cloudflare's CF-Connecting-IP, as the app's own count uses; "" when absent (local tools). */
export const clientOf = (req: Request): string => req.headers.get('cf-connecting-ip') ?? '';

/**
 * The cross-key session count of one key's object.
 * @example const limit = new ClientLimit(env, ctx.storage.sql, ctx.id.toString(), 64, 86_400, 2 ** 40)
 */
export class ClientLimit {
  constructor(
    private readonly env: Env,
    private readonly sql: SqlStorage,
    private readonly objectId: string,
    readonly max: number,
    private readonly ttlSeconds: number,
    /** maxStagedBytesPerClient: bytes of file size a client may have staged in its open sessions over all keys. */
    private readonly maxBytes: number,
  ) {
    sql.exec(SCHEMA);
  }

  private stub(client: string): DurableObjectStub<ClientObjectRpc> {
    return this.env.CLIENTS.get(this.env.CLIENTS.idFromName(client));
  }

  /** POST /v1/sessions: admitted by the client's object, then `create` (the app); TOO_MANY_SESSIONS (429) naming the limit otherwise. */
  async create(req: Request, create: (req: Request) => Promise<Response>): Promise<Response> {
    const client = clientOf(req);
    const stub = this.stub(client);
    const ticket = `t_${toHex(crypto.getRandomValues(new Uint8Array(12)))}`;
    const asked = (await req
      .clone()
      .json()
      .catch(() => ({}))) as { size?: unknown };
    const size = typeof asked.size === 'number' && Number.isSafeInteger(asked.size) && asked.size > 0 ? asked.size : 0; // the app refuses a bad one
    const r = await stub.admit(this.max, this.maxBytes, ticket, size);
    if (!r.admitted) {
      const until = `commit or DELETE one, or let one expire (${this.ttlSeconds} s after its last request)`;
      const who = `client ${client || '(unknown)'}`;
      return errorResponse(
        new ApiError(
          'TOO_MANY_SESSIONS',
          r.open >= this.max
            ? `${who} has ${r.open} open sessions over all keys, the limit maxSessionsPerClient ${this.max}: ${until}`
            : `${who} has ${r.bytes} bytes staged in open sessions over all keys; ${size} more would pass the limit maxStagedBytesPerClient ${this.maxBytes}: ${until}`,
        ),
      );
    }
    let res: Response;
    try {
      res = await create(req);
    } catch (e) {
      await stub.release(ticket);
      throw e;
    }
    if (res.status !== 201) {
      await stub.release(ticket);
      return res;
    }
    const s = (await res.clone().json()) as CreateSessionResponse;
    this.sql.exec('INSERT OR REPLACE INTO session_clients (id, client) VALUES (?, ?)', s.id, client);
    await stub.opened(ticket, outerId(s.id, this.objectId), Date.parse(s.expiresAt));
    return res;
  }

  /** Session `id` (this object's, "s_…") was committed, deleted or swept: frees its client's slot. */
  async ended(id: string): Promise<void> {
    const row = this.sql.exec<{ client: string }>('SELECT client FROM session_clients WHERE id = ?', id).toArray()[0];
    if (!row) return;
    this.sql.exec('DELETE FROM session_clients WHERE id = ?', id);
    await this.stub(row.client).release(outerId(id, this.objectId));
  }

  /** Forgets the client of a session found gone by its client's object (which drops its own row). */
  forget(id: string): void {
    this.sql.exec('DELETE FROM session_clients WHERE id = ?', id);
  }
}
