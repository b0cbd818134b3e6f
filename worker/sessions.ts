// Upload sessions: the record in the store (JSON, at most 2 MB), a lock per
// session so concurrent requests of one session update it one at a time, and
// expiry. Bulky state goes in session blobs: signature batches
// ("sig-<first>-<count>"), the plan ("plan") and each landed part's digests
// ("part-<n>"). A landed part is recorded by its blob alone: rewriting the
// record (and its part list, ~60 B of JSON per part) per part made a 64 GiB
// push (8,192 parts of 8 MiB) write 8,192 records of up to ~490 KB, ~2 GB.
//
// Expiry: a session ends sessionTtlSeconds after its last request (the
// record's `expires`, which parts refresh at most every TOUCH_SLACK) and
// at the latest maxSessionLifetimeSeconds after it was created, whatever its
// activity.
import type { Limits } from '../core/base/limits.js';
import type { ChunkingSpec } from '../core/protocol/chunking.js';
import type { BasisInfo, FileInfo, SessionStatus } from '../core/protocol/messages.js';
import { randomHex } from '../core/protocol/hex.js';
import { ApiError } from './errors.js';
import type { Metadata } from '../core/protocol/metadata.js';
import { KeyLocks } from './store/key-lock.js';
import type { SessionRecord, Store } from './store/store.js';

/** What the endpoint keeps in `SessionRecord.state`. */
export type SessionState = {
  /** The key's version when the session began (null: absent): the commit's expected version. */
  keyVersion: string | null;
  /** The basis (a key's version), or null. */
  basis: BasisInfo | null;
  strongBytes: number;
  partSize: number;
  /** Bytes covered by recorded signatures: kept at most the file size, so a client cannot store more signatures than chunks. */
  sigBytes: number;
  /** BLAKE3 (hex) of the plan body once it landed: an identical resend is accepted, another is PART_CONFLICT. */
  plan?: string;
  /** Set by a successful commit: a retried commit answers it again. */
  committed?: FileInfo;
  /** Who opened it (AppOptions.clientId): its size counts against that client's staged bytes, also after a restart. */
  client?: string;
  /** The push's metadata (checked), stored with the version it commits. */
  metadata?: Metadata;
};

/** A session record with the endpoint's own fields. */
export type Session = SessionRecord & { state: SessionState };

/** Session ids: "s_" and 24 hex digits (96 random bits). */
export function newSessionId(): string {
  return `s_${randomHex(12)}`;
}

const SESSION_ID = /^s_[0-9a-f]{24}$/;
const PART_BLOB = /^part-(\d{1,10})$/;

/** The session blob that records part `n` as landed (parts.ts writes it, landedParts reads the names). */
export const partBlobName = (n: number) => `part-${n}`;

/** A request that only extends a session's life rewrites the record when that moves `expires` by more than this: a minute, or a tenth of the TTL if shorter. */
const TOUCH_SLACK_MS = 60_000;

/**
 * Loads, updates and expires sessions in a store.
 * @example const s = await sessions.update(id, (s) => { s.state.plan = digest; })
 */
export class Sessions {
  private readonly locks = new KeyLocks();

  constructor(
    private readonly store: Store,
    private readonly limits: Limits,
    private readonly now: () => number,
  ) {}

  /** The expiry time of a session (created at `created`) used now: the idle TTL from now, capped by the lifetime. */
  expiry(created: number): number {
    return Math.min(this.now() + this.limits.sessionTtlSeconds * 1000, this.end(created));
  }

  /** The latest a session created at `created` may live to. */
  private end(created: number): number {
    return created + this.limits.maxSessionLifetimeSeconds * 1000;
  }

  /** A live session, or NOT_FOUND / SESSION_EXPIRED. */
  async load(id: string): Promise<Session> {
    if (!SESSION_ID.test(id)) throw new ApiError('NOT_FOUND', `no session ${JSON.stringify(id.slice(0, 40))}`);
    const s = (await this.store.getSession(id)) as Session | null;
    if (!s) throw new ApiError('NOT_FOUND', `no session ${id}`);
    if (s.lost) throw new ApiError('SESSION_EXPIRED', `session ${id} is gone: ${s.lost}; start a new one`);
    const now = this.now();
    // Checked apart from `expires`: a record written under a larger limit still ends at this one.
    if (this.end(s.created) <= now) {
      throw new ApiError(
        'SESSION_EXPIRED',
        `session ${id} reached the maximum session lifetime maxSessionLifetimeSeconds ${this.limits.maxSessionLifetimeSeconds} (created ${new Date(s.created).toISOString()}, ended ${new Date(this.end(s.created)).toISOString()}); start a new one`,
      );
    }
    if (s.expires <= now)
      throw new ApiError(
        'SESSION_EXPIRED',
        `session ${id} expired at ${new Date(s.expires).toISOString()} (sessionTtlSeconds ${this.limits.sessionTtlSeconds} after its last request); start a new one`,
      );
    return s;
  }

  /** Runs `fn` with the session locked (one at a time per session). */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(id, fn);
  }

  /** Loads under the lock, lets `fn` change the record, extends its life and stores it. */
  update<T>(id: string, fn: (s: Session) => Promise<T> | T): Promise<T> {
    return this.locked(id, async () => {
      const s = await this.load(id);
      const out = await fn(s);
      s.expires = this.expiry(s.created);
      await this.store.putSession(s);
      return out;
    });
  }

  /** Extends a locked, loaded session's life (the caller holds the lock), rewriting the record only if that moves it by more than TOUCH_SLACK_MS. */
  async touch(s: Session): Promise<void> {
    const expires = this.expiry(s.created);
    if (expires - s.expires <= Math.min(TOUCH_SLACK_MS, this.limits.sessionTtlSeconds * 100)) return;
    s.expires = expires;
    await this.store.putSession(s);
  }

  /** Part numbers that landed (their digest blobs exist), ascending. */
  async landedParts(id: string): Promise<number[]> {
    const out: number[] = [];
    for (const name of await this.store.listSessionBlobs(id)) {
      const m = PART_BLOB.exec(name);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** The resumable state of a session. */
  async status(s: Session): Promise<SessionStatus> {
    return {
      id: s.id,
      key: s.key,
      basis: s.state.basis,
      size: s.size,
      chunking: s.chunking as ChunkingSpec,
      inPlace: s.inPlace,
      signatures: s.signatures,
      plan: s.state.plan !== undefined,
      parts: await this.landedParts(s.id),
      expiresAt: new Date(s.expires).toISOString(),
    };
  }
}

/** Adds [a, b) to sorted disjoint ranges, merging neighbours. */
export function addRange(ranges: Array<[number, number]>, a: number, b: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let cur: [number, number] = [a, b];
  let placed = false;
  for (const r of ranges) {
    if (r[1] < cur[0]) out.push(r);
    else if (cur[1] < r[0]) {
      if (!placed) {
        out.push(cur);
        placed = true;
      }
      out.push(r);
    } else cur = [Math.min(r[0], cur[0]), Math.max(r[1], cur[1])];
  }
  if (!placed) out.push(cur);
  return out;
}
