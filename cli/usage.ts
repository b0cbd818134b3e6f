// What every command shares: argument parsing that turns bad arguments into
// UsageError (exit 2), number and flag parsing, the chunking flags.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CDC_DEFAULTS, CDC_RANGES } from '../core/base/limits.js';
import type { ChunkingSpec } from '../core/protocol/chunking.js';

/** Bad command-line arguments: the CLI prints the usage and exits with 2. */
export class UsageError extends Error {}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** node:util parseArgs, with its errors turned into UsageError. */
export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>): ParsedArgs {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as ParsedArgs;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** A non-negative integer option, or UsageError naming it. */
export function integer(name: string, value: string | boolean | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new UsageError(`--${name} needs a value`);
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

/** Bytes as MB (10^6) with two decimals, as the CLI's summaries print them. */
export const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

/** Lower-case hex of bytes. */
export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

export { hex32 } from '../core/protocol/hex.js';

/** --progress / --no-progress: true, false, or undefined (a terminal decides); both given is a usage error. */
export function progressFlag(values: Record<string, string | boolean | undefined>): boolean | undefined {
  if (values.progress && values['no-progress']) throw new UsageError('give --progress or --no-progress, not both');
  return values.progress === true ? true : values['no-progress'] === true ? false : undefined;
}

/** The chunking spec from --chunking, --block and --avg; undefined (the SDK's default for the file's size) for plain cdc. */
export function chunkingOption(values: Record<string, string | boolean | undefined>): ChunkingSpec | undefined {
  if (values.chunking === 'fixed') {
    if (values.avg !== undefined) throw new UsageError('--avg is for --chunking cdc; use --block with fixed');
    return { kind: 'fixed', block: integer('block', values.block, 4096) };
  }
  if (values.chunking !== 'cdc') throw new UsageError(`--chunking must be cdc or fixed, got '${values.chunking}'`);
  if (values.block !== undefined) throw new UsageError('--block is for --chunking fixed');
  if (values.avg === undefined) return undefined;
  // min and max keep the defaults' ratios to avg (2 KiB / 8 KiB / 64 KiB).
  const avg = integer('avg', values.avg, CDC_DEFAULTS.avg);
  const min = Math.max(CDC_RANGES.min[0], (avg * CDC_DEFAULTS.min) / CDC_DEFAULTS.avg);
  const max = Math.min(CDC_RANGES.max[1], (avg * CDC_DEFAULTS.max) / CDC_DEFAULTS.avg);
  return { kind: 'cdc', min: Math.floor(min), avg, max: Math.floor(max), level: CDC_DEFAULTS.level };
}
