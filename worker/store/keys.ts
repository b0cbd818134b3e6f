// Key validation, shared by every backend. A key becomes a path on disk in
// the fs store, so anything that could name a path outside the store's
// directory, or the store's own metadata folder, is refused here; the fs store
// additionally refuses to follow symbolic links (fs-paths.ts).
//
// The HTTP layer percent-decodes a key once; a client can encode twice
// ("%252e%252e" -> "%2e%2e") hoping something downstream decodes again, so
// the rules are also checked on every further decoding of the key.
import { StoreError } from './store.js';

/** Longest key: 1024 bytes of UTF-8, like S3 and R2. */
export const MAX_KEY_BYTES = 1024;
/** Longest segment: 255 bytes, NAME_MAX on Linux, macOS and Windows file systems. */
export const MAX_SEGMENT_BYTES = 255;
/** The fs store's metadata folder at the root of its directory; never a key. */
export const META_DIR = '.deltaflare';
/** How many further percent-decodings are checked; each must change the string, so 4 covers "%25252e" and more is not useful. */
const MAX_DECODES = 4;

const utf8 = new TextEncoder();

/**
 * Returns `key` if it is acceptable, else throws StoreError INVALID_KEY naming
 * the rule it broke.
 *
 * @example
 * validateKey('images/disk.img'); // ok
 * validateKey('a/../b');          // throws: segment ".." is not allowed
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string') throw invalid(key, 'must be a string');
  checkRules(key, key, '');
  let current = key;
  for (let i = 1; i <= MAX_DECODES && current.includes('%'); i++) {
    const decoded = percentDecode(key, current);
    if (decoded === current) break;
    checkRules(key, decoded, ` after ${i} percent-decoding${i > 1 ? 's' : ''}`);
    current = decoded;
  }
  return key;
}

/** Throws INVALID_KEY unless `prefix` could start a valid key ("" and "dir/" are fine). */
export function validatePrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw invalid(prefix, 'prefix must be a string');
  if (prefix === '') return prefix;
  // A prefix may end inside a segment ("a/", "a/.", "a/.."): it is valid if some key starts with it.
  validateKey(`${prefix}x`);
  return prefix;
}

function checkRules(original: string, key: string, when: string): void {
  if (key.length === 0) throw invalid(original, `is empty${when}`);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(key)) throw invalid(original, `contains an unpaired surrogate${when}`);
  const bytes = utf8.encode(key).length;
  if (bytes > MAX_KEY_BYTES && when === '') throw invalid(original, `is ${bytes} bytes of UTF-8, above the limit ${MAX_KEY_BYTES}`);
  // C0 controls (NUL included), DEL and C1 controls: invisible in logs, NUL truncates C paths.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this check's purpose
  const control = /[\u0000-\u001f\u007f-\u009f]/.exec(key);
  if (control) throw invalid(original, `contains control character U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')}${when}`);
  if (key.includes('\\')) throw invalid(original, `contains a backslash (a path separator on Windows)${when}`);
  if (key.startsWith('/')) throw invalid(original, `is an absolute path (starts with "/")${when}`);
  const segments = key.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s === '') throw invalid(original, `has an empty segment at position ${i}${when}`);
    if (s === '.' || s === '..') throw invalid(original, `has a "${s}" segment${when}`);
    const n = utf8.encode(s).length;
    if (n > MAX_SEGMENT_BYTES) throw invalid(original, `has a segment of ${n} bytes, above the limit ${MAX_SEGMENT_BYTES}${when}`);
  }
  // Case-insensitive: on macOS and Windows ".DeltaFlare" is the same folder.
  if (segments[0].toLowerCase().startsWith(META_DIR)) throw invalid(original, `starts with "${META_DIR}", the store's metadata folder${when}`);
}

/** Decodes %XX escapes once; INVALID_KEY if the decoded bytes are not UTF-8 (e.g. the overlong "%c0%ae" for "."). */
function percentDecode(original: string, s: string): string {
  if (!/%[0-9a-fA-F]{2}/.test(s)) return s;
  const parts: number[] = [];
  for (let i = 0; i < s.length; ) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      parts.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of utf8.encode(ch)) parts.push(b);
      i += ch.length;
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(new Uint8Array(parts));
  } catch {
    throw invalid(original, 'percent-decodes to bytes that are not valid UTF-8');
  }
}

function invalid(key: unknown, reason: string): StoreError {
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key) : String(key);
  return new StoreError('INVALID_KEY', `key ${shown} ${reason}`);
}
