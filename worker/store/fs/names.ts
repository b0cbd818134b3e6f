// Keys that one file system would store as one file: on a case-insensitive
// one (macOS and Windows by default) "A" and "a" are the same path, macOS
// also takes a name's NFC and NFD spellings ("é" as one code point or as
// "e" and a combining accent) as one, and
// Windows also maps away trailing dots and spaces, reserves device names
// (CON, NUL, COM1, ...) and characters (<>:"|?*), and answers to 8.3 short
// names (PROGRA~1). Two keys on one file would share bytes while the store
// keeps two version records (kept by a hash of the key): the fs store
// refuses such keys where it runs on such a file system (INVALID_KEY naming
// the rule), and checks nothing more on case-sensitive Linux file systems.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { constants } from 'node:fs';
import { errno, type FsFacade, ioError } from './facade.js';
import { StoreError } from '../store.js';

/** Whether `dir` (an existing folder of the store) treats names case-insensitively: a probe file is looked up under its other case. */
export async function probeCaseInsensitive(fs: FsFacade, dir: string): Promise<boolean> {
  const name = `case-probe-${randomBytes(6).toString('hex')}-aB`;
  const f = await fs.open(join(dir, name), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY);
  await fs.close(f);
  try {
    await fs.lstat(join(dir, name.toUpperCase()));
    return true;
  } catch (e) {
    if (errno(e) === 'ENOENT') return false;
    throw e;
  } finally {
    await fs.unlink(join(dir, name)).catch(() => undefined);
  }
}

/** Windows' reserved device names, with or without an extension. */
const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

/** INVALID_KEY if `key` could alias another key, or a device, on a case-insensitive or Windows file system. */
export function checkPortableKey(key: string): void {
  for (const s of key.split('/')) {
    const bad = /[<>:"|?*]/.exec(s);
    const why = bad
      ? `contains "${bad[0]}", reserved on Windows`
      : /[. ]$/.test(s)
        ? `has a segment ending in "${s.at(-1)}", which Windows drops`
        : DEVICE.test(s)
          ? `has the segment "${s}", a Windows device name`
          : /~\d/.test(s)
            ? `has the segment "${s}", which can be a Windows short (8.3) name of another`
            : '';
    if (why) throw new StoreError('INVALID_KEY', `key ${JSON.stringify(key)} ${why}: this store's file system would alias it`);
  }
}

/** A name as a case- and normalization-insensitive file system compares it. */
const folded = (name: string) => name.normalize('NFC').toLowerCase();

/**
 * INVALID_KEY if a segment of `key` exists on disk under another case or
 * Unicode normalization (the file system would give another key's file):
 * each parent's entries are compared by name, in NFC, ignoring case.
 */
export async function checkCase(fs: FsFacade, root: string, key: string): Promise<void> {
  const segments = key.split('/');
  for (let i = 0; i < segments.length; i++) {
    const dir = join(root, ...segments.slice(0, i));
    let names: string[];
    try {
      names = (await fs.readdir(dir)).map((e) => e.name);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return; // nothing further exists to alias
      throw ioError(`list ${JSON.stringify(segments.slice(0, i).join('/'))}`, e);
    }
    const want = segments[i];
    const other = names.find((n) => n !== want && folded(n) === folded(want));
    if (other) {
      const existing = [...segments.slice(0, i), other].join('/');
      const how = other.toLowerCase() === want.toLowerCase() ? 'case' : 'case or Unicode normalization (NFC/NFD)';
      throw new StoreError(
        'INVALID_KEY',
        `key ${JSON.stringify(key)} differs only in ${how} from ${JSON.stringify(existing)}, the same file on this store's case-insensitive file system`,
      );
    }
    if (!names.includes(want)) return;
  }
}
