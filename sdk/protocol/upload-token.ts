// Upload tokens: a bearer token that lets its holder push (and read) one key
// until an expiry, signed with the endpoint's token. A web app's backend, which
// holds the endpoint's token, makes one per browser upload; the browser passes
// it as the SDK's `token` option, unchanged on every request of the push.
// Web APIs only (crypto.subtle). docs/protocol.md "Access" has the format; the
// endpoint's check is worker/auth.ts.
import { toHex } from './hex.js';

/** Every upload token starts with this; a token without it is a plain token. */
export const UPLOAD_TOKEN_PREFIX = 'dfu1.';

const enc = new TextEncoder();

/** What an upload token signs: a domain tag, the key and the expiry (unix seconds), one per line. */
export const uploadTokenMessage = (key: string, expires: number) => `deltaflare-upload-v1\n${key}\n${expires}`;

/** Lower-case hex HMAC-SHA-256 of `message` under `secret`. */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(message)));
  return toHex(mac);
}

const toB64url = (text: string) => btoa(String.fromCharCode(...enc.encode(text))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * An upload token for `key`, good until `expires` (unix seconds), signed with
 * `secret` (the endpoint's write token). Format:
 * `dfu1.<expires>.<base64url(key)>.<hex HMAC-SHA-256(secret, "deltaflare-upload-v1\n" key "\n" expires)>`.
 * @example
 * // in the web app's backend, after checking who asks:
 * const token = await signUploadToken({ secret: process.env.DELTAFLARE_TOKEN!, key: 'users/7/photo.jpg', expires: Date.now() / 1000 + 3600 });
 * // in that user's browser:
 * await sync(file, { endpoint, key: 'users/7/photo.jpg', token });
 */
export async function signUploadToken(opts: { secret: string; key: string; expires: number }): Promise<string> {
  const expires = Math.floor(opts.expires);
  if (!opts.secret) throw new TypeError('signUploadToken: secret is empty');
  if (!Number.isSafeInteger(expires) || expires < 0) throw new TypeError(`signUploadToken: expires ${opts.expires} is not unix seconds`);
  return `${UPLOAD_TOKEN_PREFIX}${expires}.${toB64url(opts.key)}.${await hmacSha256Hex(opts.secret, uploadTokenMessage(opts.key, expires))}`;
}

/** The parts of an upload token, or null if it is not one. The signature is not checked here. */
export function parseUploadToken(token: string): { expires: number; key: string; signature: string } | null {
  const m = /^dfu1\.(\d{1,15})\.([A-Za-z0-9_-]*)\.([0-9a-f]{64})$/.exec(token);
  if (!m) return null;
  try {
    const bin = atob(m[2].replace(/-/g, '+').replace(/_/g, '/'));
    const key = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    return { expires: Number(m[1]), key, signature: m[3] };
  } catch {
    return null;
  }
}
