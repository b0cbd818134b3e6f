// The endpoint's limits on Workers, from the values in core/base/limits.ts:
// every request body the protocol allows must stay under the 100 MB body cap
// of the Free and Pro plans, and the parts in flight must fit a 128 MB
// isolate beside the manifest cache.
import {
  bodyCaps,
  DEFAULT_LIMITS,
  ENDPOINT_DEFAULTS,
  type Limits,
  MAX_SESSIONS_PER_CLIENT_RANGE,
  resolveLimits,
  WORKERS_BODY_CAP,
  WORKERS_PART_SIZE,
} from '../../core/base/limits.js';
import { checkRange } from '../../core/base/errors.js';

/**
 * The Workers limits: DEFAULT_LIMITS with a 4 MiB part, overridden by the
 * `LIMITS` variable of wrangler.toml (JSON, or parsed); throws if a limit is
 * unknown or any body could pass the 100 MB cap.
 * @example workersLimits('{"partSize": 8388608}')
 */
export function workersLimits(overrides?: string | Partial<Limits>): Limits {
  const given = typeof overrides === 'string' ? (JSON.parse(overrides) as Partial<Limits>) : (overrides ?? {});
  const l = resolveLimits({ ...DEFAULT_LIMITS, partSize: WORKERS_PART_SIZE, ...given });
  for (const [what, n] of Object.entries(bodyCaps(l))) {
    if (n >= WORKERS_BODY_CAP)
      throw new RangeError(`a ${what} body could be ${n} bytes, above Workers' ${WORKERS_BODY_CAP}-byte request cap; lower the limits`);
  }
  return l;
}

/**
 * maxSessionsPerClient from the MAX_SESSIONS_PER_CLIENT variable (the same
 * 1..1,000,000 range the app checks).
 * @example workersMaxSessions('8') === 8
 */
export function workersMaxSessions(text?: string): number {
  const n = text === undefined || text === '' ? ENDPOINT_DEFAULTS.maxSessionsPerClient : Number(text);
  checkRange('MAX_SESSIONS_PER_CLIENT', n, ...MAX_SESSIONS_PER_CLIENT_RANGE);
  return n;
}
