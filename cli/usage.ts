import { parseArgs, type ParseArgsConfig } from 'node:util';

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
