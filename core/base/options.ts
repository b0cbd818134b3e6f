// Options checked when a function is called: TypeScript's types are gone at
// run time, so a misspelt option (`token` for `access: { token }`) would
// otherwise be ignored in silence, and an endpoint meant to be closed would
// start open. Each entry point lists its options as a record of every key
// (`OptionKeys<T>`: the compiler refuses a list that misses or adds one) and
// checks what it is given against it.
import { DeltaflareError } from './errors.js';

/** Every key of an options type, for `checkOptions`: a record the compiler keeps complete. */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * INVALID_ARGUMENT unless `options` is an object whose keys are all in
 * `known`, naming the first unknown one, a likely meant one (`hints`, else
 * the nearest known name), and the known ones.
 * @example checkOptions('serve', opts, { dir: true, port: true }, { directory: 'dir' })
 */
export function checkOptions(where: string, options: unknown, known: OptionKeys<object>, hints: Record<string, string> = {}): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new DeltaflareError(
      'INVALID_ARGUMENT',
      `${where} takes an options object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`,
    );
  }
  const names = Object.keys(known);
  for (const key of Object.keys(options)) {
    if (Object.hasOwn(known, key)) continue;
    const meant = hints[key] ?? nearest(key, names);
    throw new DeltaflareError(
      'INVALID_ARGUMENT',
      `${where}: unknown option ${JSON.stringify(key)}${meant ? ` (did you mean ${meant}?)` : ''}; its options are ${names.join(', ')}`,
    );
  }
}

/** INVALID_ARGUMENT naming `what` when `value` is missing. */
export function required<T>(where: string, what: string, value: T | undefined | null, how: string): T {
  if (value === undefined || value === null) throw new DeltaflareError('INVALID_ARGUMENT', `${where} needs ${what}: ${how}`);
  return value;
}

/** The known name within 2 edits of `key` (case ignored), if one is. */
function nearest(key: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const d = distance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}
