// Per-upload metadata: string pairs a push sends with its session (tus's
// Upload-Metadata), stored with the version it commits, returned by HEAD and
// GET of the file (one header), listings, pull() and the endpoint's hooks.
// Bounded so it fits beside a version's own fields in R2's 2 KiB of custom
// metadata: at most 32 pairs and 1,024 bytes as JSON.
import { DeltaflareError } from '../base/errors.js';

/** Names to values, both strings. */
export type Metadata = Record<string, string>;

/** The most pairs (32) and bytes of their JSON (1,024) one version keeps. */
export const METADATA_LIMITS = { maxPairs: 32, maxBytes: 1024 } as const;

/** A name: a letter or digit, then up to 63 of letters, digits, ".", "_", "-" (header- and JSON-safe). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The response header carrying a version's metadata: its JSON, percent-encoded (header values are ASCII). */
export const METADATA_HEADER = 'X-Deltaflare-Metadata';

/**
 * `m` as Metadata, or INVALID_ARGUMENT naming the rule it breaks (`what` says where it came from).
 * @example checkMetadata({ owner: 'ana', build: '412' }, 'push metadata')
 */
export function checkMetadata(m: unknown, what = 'metadata'): Metadata {
  const bad = (why: string) => new DeltaflareError('INVALID_ARGUMENT', `${what}: ${why}`);
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw bad('must be an object of string values, e.g. {"owner": "ana"}');
  const entries = Object.entries(m);
  if (entries.length > METADATA_LIMITS.maxPairs) throw bad(`${entries.length} pairs, above the limit ${METADATA_LIMITS.maxPairs}`);
  for (const [k, v] of entries) {
    if (!NAME.test(k)) throw bad(`name ${JSON.stringify(k.slice(0, 80))} is not 1..64 of [A-Za-z0-9._-] starting with a letter or digit`);
    if (typeof v !== 'string') throw bad(`value of ${JSON.stringify(k)} is a ${typeof v}, not a string`);
  }
  const bytes = new TextEncoder().encode(JSON.stringify(m)).length;
  if (bytes > METADATA_LIMITS.maxBytes) throw bad(`${bytes} bytes as JSON, above the limit ${METADATA_LIMITS.maxBytes}`);
  return Object.fromEntries(entries) as Metadata;
}

/** The header value for `m`. */
export function encodeMetadataHeader(m: Metadata): string {
  return encodeURIComponent(JSON.stringify(m));
}

/** The metadata of a header value, or undefined when absent or not ours (a proxy's mangling is no reason to fail a download). */
export function decodeMetadataHeader(value: string | null): Metadata | undefined {
  if (!value) return undefined;
  try {
    return checkMetadata(JSON.parse(decodeURIComponent(value)), METADATA_HEADER);
  } catch {
    return undefined;
  }
}

/** Whether two metadata (or their absence) hold the same pairs, in any order. */
export function sameMetadata(a: Metadata | undefined, b: Metadata | undefined): boolean {
  const pairs = (m: Metadata | undefined) => JSON.stringify(Object.entries(m ?? {}).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return pairs(a) === pairs(b);
}
