// Upload tokens: a bearer token that lets its holder push (and read) one key
// until an expiry, at most a size if it says so. A web app's backend makes
// one per browser upload with the endpoint's signing secret; the browser
// passes it as the SDK's `token` option, unchanged on every request of the
// push. Web APIs only (crypto.subtle). docs/protocol.md "Access" has the
// format; the endpoint's check is worker/http/auth.ts.
//
// The signing secret is the endpoint's upload secret, or else its write
// token. Either way tokens are signed with a key derived from it (HMAC of a
// fixed label), never with the secret itself, and only a secret of at least
// MIN_SIGNING_SECRET characters signs: a holder of an upload token could
// otherwise test guesses of a short secret offline against its signature.
import { toHex } from './hex.js';

/** Every upload token starts with this; a token without it is a plain token. */
export const UPLOAD_TOKEN_PREFIX = 'dfu2.';

/** Shortest signing secret, characters: 32 random base64 characters are 192 bits, beyond offline guessing. */
export const MIN_SIGNING_SECRET = 32;

const enc = new TextEncoder();

/** What an upload token signs: a domain tag, the key, the expiry (unix seconds) and the size cap ('' for none), one per line. */
export const uploadTokenMessage = (key: string, expires: number, maxSize?: number) => `deltaflare-upload-v2\n${key}\n${expires}\n${maxSize ?? ''}`;

/** Lower-case hex HMAC-SHA-256 of `message` under `secret`. */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(message)));
  return toHex(mac);
}

/** The key tokens are signed with: derived from the signing secret, so the secret itself never keys a MAC a token holder sees. */
export const uploadSigningKey = (secret: string): Promise<string> => hmacSha256Hex(secret, 'deltaflare upload-token signing key v2');

const toB64url = (text: string) =>
  btoa(String.fromCharCode(...enc.encode(text)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/**
 * An upload token for `key`, good until `expires` (unix seconds) for files
 * of at most `maxSize` bytes if given, signed with `secret` (the endpoint's
 * upload secret, or its write token; at least MIN_SIGNING_SECRET characters).
 * Format: `dfu2.<expires>.<maxSize or empty>.<base64url(key)>.<hex HMAC-SHA-256>`,
 * the MAC over uploadTokenMessage under uploadSigningKey(secret).
 * @example
 * // in the web app's backend, after checking who asks:
 * const token = await signUploadToken({ secret: process.env.DELTAFLARE_TOKEN!, key: 'users/7/photo.jpg', expires: Date.now() / 1000 + 3600, maxSize: 50e6 });
 * // in that user's browser:
 * await sync(file, { endpoint, key: 'users/7/photo.jpg', token });
 */
export async function signUploadToken(opts: {
  /** The endpoint's DELTAFLARE_TOKEN (at least 32 characters). */
  secret: string;
  /** The one key the token may push. */
  key: string;
  /** Expiry, seconds since the epoch. */
  expires: number;
  /** Largest file size the token may push, bytes (default: the endpoint's limit). */
  maxSize?: number;
}): Promise<string> {
  const expires = Math.floor(opts.expires);
  if ((opts.secret?.length ?? 0) < MIN_SIGNING_SECRET)
    throw new TypeError(`signUploadToken: the secret has ${opts.secret?.length ?? 0} characters, fewer than ${MIN_SIGNING_SECRET}`);
  if (!Number.isSafeInteger(expires) || expires < 0) throw new TypeError(`signUploadToken: expires ${opts.expires} is not unix seconds`);
  if (opts.maxSize !== undefined && !(Number.isSafeInteger(opts.maxSize) && opts.maxSize >= 0))
    throw new TypeError(`signUploadToken: maxSize ${opts.maxSize} is not a byte count`);
  const mac = await hmacSha256Hex(await uploadSigningKey(opts.secret), uploadTokenMessage(opts.key, expires, opts.maxSize));
  return `${UPLOAD_TOKEN_PREFIX}${expires}.${opts.maxSize ?? ''}.${toB64url(opts.key)}.${mac}`;
}

/** The parts of an upload token, or null if it is not one. The signature is not checked here. */
export function parseUploadToken(token: string): { expires: number; maxSize?: number; key: string; signature: string } | null {
  const m = /^dfu2\.(\d{1,15})\.(\d{0,16})\.([A-Za-z0-9_-]*)\.([0-9a-f]{64})$/.exec(token);
  if (!m) return null;
  const maxSize = m[2] === '' ? undefined : Number(m[2]);
  if (maxSize !== undefined && !Number.isSafeInteger(maxSize)) return null;
  try {
    const bin = atob(m[3].replace(/-/g, '+').replace(/_/g, '/'));
    const key = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    return { expires: Number(m[1]), maxSize, key, signature: m[4] };
  } catch {
    return null;
  }
}
