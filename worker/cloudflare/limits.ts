// Limits of the endpoint on Workers. Every request body the protocol allows
// must stay under the 100 MB body cap of the Free and Pro plans, and the
// parts in flight must fit a 128 MB isolate beside the manifest cache.
import { DEFAULT_LIMITS, type Limits } from '../../sdk/protocol/messages.js';
import { checkRange } from '../../sdk/base/errors.js';
import { resolveLimits } from '../options.js';

/** Cloudflare's request body cap on Free and Pro (100 MB, decimal: the safe reading). */
export const BODY_CAP = 100_000_000;

/**
 * Part size on Workers: 4 MiB. The SDK sends 4 parts at once, and each costs
 * about 3x its size while it lands (the body, the payload when deflated, the
 * pending write), so 4 x 3 x 4 MiB = 48 MiB of a 128 MB isolate.
 */
export const WORKERS_PART_SIZE = 4 << 20;

/** Decoded basis manifests kept per Durable Object: 2^18 chunks (~15 MB at 56 B/chunk; a 1 GiB file at 4 KiB blocks). */
export const WORKERS_MANIFEST_CACHE_CHUNKS = 1 << 18;

/** The largest body each route accepts under `limits` (docs/protocol.md, "Body caps"). */
export function largestBodies(l: Limits): Record<string, number> {
  return {
    part: 24 + 12 * l.maxPartOps + l.partSize + 4,
    plan: 24 + 24 * l.maxPlanOps,
    'signature batch': 24 + 8 * l.maxSignaturesPerBatch,
  };
}

/**
 * The Workers limits: DEFAULT_LIMITS with a 4 MiB part, overridden by the
 * `LIMITS` variable (JSON) of wrangler.toml; throws if any body could pass
 * the 100 MB cap.
 * @example workersLimits('{"partSize": 8388608}')
 */
export function workersLimits(json?: string): Limits {
  const l = resolveLimits({ ...DEFAULT_LIMITS, partSize: WORKERS_PART_SIZE, ...(json ? (JSON.parse(json) as Partial<Limits>) : {}) });
  for (const [what, n] of Object.entries(largestBodies(l))) {
    if (n >= BODY_CAP) throw new RangeError(`deltaflare: a ${what} body could be ${n} bytes, above Workers' ${BODY_CAP}-byte request cap; lower the limits`);
  }
  return l;
}

/** Open sessions per client when MAX_SESSIONS_PER_CLIENT is unset: 64, the app's default on Node (worker/app.ts). */
export const DEFAULT_MAX_SESSIONS_PER_CLIENT = 64;

/**
 * maxSessionsPerClient from the MAX_SESSIONS_PER_CLIENT variable (the same
 * 1..1,000,000 range the app checks).
 * @example workersMaxSessions('8') === 8
 */
export function workersMaxSessions(text?: string): number {
  const n = text === undefined || text === '' ? DEFAULT_MAX_SESSIONS_PER_CLIENT : Number(text);
  checkRange('MAX_SESSIONS_PER_CLIENT', n, 1, 1_000_000);
  return n;
}
