// Lifecycle hooks of an endpoint, as tus users know them (onUploadCreate,
// onUploadFinish): options of createApp, and of the Worker's key object
// (override its `hooks()`). A refusal from onSessionCreate answers the
// client; an error in onCommit or onSessionExpire is logged, never undoes
// what already happened (the version is durable, the session gone).
import type { Metadata } from '../core/protocol/metadata.js';
import { ApiError } from './errors.js';

/** What a session is about to be opened for. */
export interface SessionCreateEvent {
  /** The request (headers for your own auth, the client's address...). */
  request: Request;
  /** The key the push will write. */
  key: string;
  /** Bytes of the file it announces. */
  size: number;
  /** The push's metadata, checked (core/protocol/metadata.ts), or undefined. */
  metadata?: Metadata;
}

/** A version just committed: durable and readable. */
export interface CommitEvent {
  /** The key written. */
  key: string;
  /** The new version's id. */
  version: string;
  /** Bytes. */
  size: number;
  /** Manifest root, hex. */
  root: string;
  /** The metadata the push sent, stored with the version. */
  metadata?: Metadata;
}

/** A session that ended without a commit: idle past its TTL, past its lifetime, or lost. */
export interface SessionExpireEvent {
  /** The session's id. */
  id: string;
  /** The key it would have written. */
  key: string;
  /** Bytes of the file it announced. */
  size: number;
  /** The metadata it was opened with. */
  metadata?: Metadata;
}

/** A refusal of a session: answered with `status` (4xx) and `message` as a FORBIDDEN-coded error body. */
export interface Refusal {
  /** A 4xx status (400..499). */
  status: number;
  /** Why, for the client: its error message names it. */
  message: string;
}

/**
 * Hooks of an endpoint. Each may be async.
 * @example createApp({ store, onCommit: async (c) => queue.send(c), onSessionCreate: (s) => s.size > 1e9 ? { status: 413, message: 'too big for your plan' } : undefined })
 */
export interface Hooks {
  /** Before a session opens: return a Refusal (or throw one) to refuse it. */
  onSessionCreate?: (e: SessionCreateEvent) => void | Refusal | undefined | Promise<void | Refusal | undefined>;
  /** After a version is committed. */
  onCommit?: (e: CommitEvent) => void | Promise<void>;
  /** After a session expired and its staged bytes were dropped. */
  onSessionExpire?: (e: SessionExpireEvent) => void | Promise<void>;
}

/** The hook names (the options check lists them). */
export const HOOK_NAMES = ['onSessionCreate', 'onCommit', 'onSessionExpire'] as const;

/** Runs onSessionCreate; a refusal becomes an ApiError with its status (4xx only: a hook cannot make the endpoint answer 5xx or 2xx). */
export async function admitSession(hooks: Hooks, e: SessionCreateEvent): Promise<void> {
  if (!hooks.onSessionCreate) return;
  let refusal: unknown;
  try {
    refusal = await hooks.onSessionCreate(e);
  } catch (x) {
    if (!isRefusal(x)) throw x;
    refusal = x;
  }
  if (!refusal) return;
  if (!isRefusal(refusal)) throw new TypeError('onSessionCreate must return nothing or { status, message }');
  const status = refusal.status >= 400 && refusal.status < 500 ? refusal.status : 403;
  throw new ApiError('FORBIDDEN', refusal.message, { status });
}

function isRefusal(x: unknown): x is Refusal {
  return typeof x === 'object' && x !== null && typeof (x as Refusal).status === 'number' && typeof (x as Refusal).message === 'string';
}

/** Runs a hook whose failure must not undo anything: its error goes to `log`. */
export async function notify<E>(hook: ((e: E) => void | Promise<void>) | undefined, e: E, log: (e: unknown) => void): Promise<void> {
  if (!hook) return;
  try {
    await hook(e);
  } catch (x) {
    log(x);
  }
}
