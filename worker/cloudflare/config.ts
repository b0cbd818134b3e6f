// The Worker's configuration from its env (wrangler.toml's vars and
// secrets), checked as createApp checks its options: LIMITS (JSON of known
// limits), MAX_SESSIONS_PER_CLIENT, the tokens, PROTECT_READS,
// CORS_ORIGINS, ALLOWED_HOSTS, COMPACTION, FLAT_PREFIX and DELTAFLARE_R2_STATS. Checked once per env; a mistake is logged and every request
// answered 500 naming it, instead of a Worker that starts with a limit or a
// token silently ignored.
import { DeltaflareError } from '../../core/base/errors.js';
import type { Limits } from '../../core/base/limits.js';
import type { AccessOptions } from '../options.js';
import { ApiError } from '../errors.js';
import { openHosts } from '../http/hosts.js';
import { COMPACT_AT, COMPACT_TO, type CompactionBounds, LAYOUT_PREFIXES, MAX_COMPACT_AT } from '../store/r2/compaction.js';
import type { Env } from './env.js';
import { workersLimits, workersMaxSessions } from './limits.js';

export interface WorkerConfig {
  limits: Limits;
  maxSessionsPerClient: number;
  access: AccessOptions;
  corsOrigins: string[];
  /** While open for writes (no token): the Host names answered (loopback and ALLOWED_HOSTS). */
  allowedHost?: (host: string) => boolean;
  /** When a key's versions are compacted (COMPACTION, default 512 extents down to 256). */
  compaction: CompactionBounds;
  /** FLAT_PREFIX: where each key's bytes are also kept as one flat object, or none. */
  flatPrefix?: string;
}

/** FLAT_PREFIX: a folder of the bucket ("files/") outside the layout's own prefixes, or none. */
function flatPrefixOf(text: string | undefined): string | undefined {
  if (text === undefined || text === '') return undefined;
  if (!text.endsWith('/') || text.startsWith('/') || LAYOUT_PREFIXES.some((p) => text.startsWith(p)) || new TextEncoder().encode(text).length > 512)
    throw new DeltaflareError(
      'INVALID_ARGUMENT',
      `FLAT_PREFIX is ${JSON.stringify(text)}: it must be a folder ending in "/", at most 512 bytes, not starting with "/" or the layout's own ${LAYOUT_PREFIXES.join(' ')}`,
    );
  return text;
}

/**
 * COMPACTION: JSON {"at": n, "to": m}: compact a version past `at` extents
 * down to `to` (1 <= to <= at <= 900, the most a version keeps).
 */
function compactionOf(text: string | undefined): CompactionBounds {
  if (text === undefined || text === '') return { at: COMPACT_AT, to: COMPACT_TO };
  let j: { at?: unknown; to?: unknown };
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new DeltaflareError('INVALID_ARGUMENT', `COMPACTION is not JSON: ${(e as Error).message}`);
  }
  const keys = j && typeof j === 'object' ? Object.keys(j) : [];
  const { at, to } = j ?? {};
  if (
    keys.some((k) => k !== 'at' && k !== 'to') ||
    !Number.isInteger(at) ||
    !Number.isInteger(to) ||
    !(1 <= (to as number) && (to as number) <= (at as number) && (at as number) <= MAX_COMPACT_AT)
  )
    throw new DeltaflareError('INVALID_ARGUMENT', `COMPACTION is ${JSON.stringify(text)}, not {"at": n, "to": m} with 1 <= m <= n <= ${MAX_COMPACT_AT}`);
  return { at: at as number, to: to as number };
}

const checked = new WeakMap<Env, WorkerConfig | ApiError>();

/** The configuration of `env`, checked once; throws (the same error every time) if it is wrong. */
export function workerConfig(env: Env): WorkerConfig {
  let c = checked.get(env);
  if (!c) {
    try {
      c = readConfig(env);
    } catch (e) {
      const why = e instanceof Error ? e.message.replace(/^deltaflare: /, '') : String(e);
      c = new ApiError('INTERNAL', `the Worker's configuration is wrong: ${why} (wrangler.toml vars or secrets)`, { cause: e });
      console.error(c.message);
    }
    checked.set(env, c);
  }
  if (c instanceof ApiError) throw c;
  return c;
}

function readConfig(env: Env): WorkerConfig {
  let overrides: unknown;
  try {
    overrides = env.LIMITS ? JSON.parse(env.LIMITS) : undefined;
  } catch (e) {
    throw new DeltaflareError('INVALID_ARGUMENT', `LIMITS is not JSON: ${(e as Error).message}`);
  }
  if (overrides !== undefined && (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))) {
    throw new DeltaflareError('INVALID_ARGUMENT', 'LIMITS must be a JSON object of limits, e.g. {"maxFileSize": 10737418240}');
  }
  const secret = (name: 'DELTAFLARE_TOKEN' | 'DELTAFLARE_READ_TOKEN' | 'DELTAFLARE_UPLOAD_SECRET') => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string' || v.trim() !== v) throw new DeltaflareError('INVALID_ARGUMENT', `${name} must be a string without surrounding spaces`);
    return v;
  };
  if (env.DELTAFLARE_R2_STATS !== undefined && env.DELTAFLARE_R2_STATS !== '' && env.DELTAFLARE_R2_STATS !== 'true' && env.DELTAFLARE_R2_STATS !== 'false') {
    throw new DeltaflareError('INVALID_ARGUMENT', `DELTAFLARE_R2_STATS is ${JSON.stringify(env.DELTAFLARE_R2_STATS)}, not "true" or "false"`);
  }
  if (env.PROTECT_READS !== undefined && env.PROTECT_READS !== '' && env.PROTECT_READS !== 'true' && env.PROTECT_READS !== 'false') {
    throw new DeltaflareError('INVALID_ARGUMENT', `PROTECT_READS is ${JSON.stringify(env.PROTECT_READS)}, not "true" or "false"`);
  }
  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const origin of corsOrigins) {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === origin;
    } catch {
      // not a URL
    }
    if (!ok)
      throw new DeltaflareError(
        'INVALID_ARGUMENT',
        `CORS_ORIGINS has ${JSON.stringify(origin)}, not an origin like "https://app.example" (no path, no trailing slash)`,
      );
  }
  const allowedHosts = (env.ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  for (const host of allowedHosts) {
    if (!/^[a-z0-9.-]+(:\d+)?$/i.test(host)) throw new DeltaflareError('INVALID_ARGUMENT', `ALLOWED_HOSTS has ${JSON.stringify(host)}, not a host name`);
  }
  const token = secret('DELTAFLARE_TOKEN');
  return {
    limits: workersLimits(overrides as Partial<Limits> | undefined),
    maxSessionsPerClient: workersMaxSessions(env.MAX_SESSIONS_PER_CLIENT),
    compaction: compactionOf(env.COMPACTION),
    flatPrefix: flatPrefixOf(env.FLAT_PREFIX),
    allowedHost: token ? undefined : openHosts(allowedHosts),
    access: {
      token,
      readToken: secret('DELTAFLARE_READ_TOKEN'),
      uploadSecret: secret('DELTAFLARE_UPLOAD_SECRET'),
      protectReads: env.PROTECT_READS === 'true',
    },
    corsOrigins,
  };
}
