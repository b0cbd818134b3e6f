// Turning a validated key into a path under the store's directory without
// ever leaving it. validateKey() already refuses "..", absolute paths and the
// metadata folder; here every parent directory is checked with lstat so a
// symbolic link planted in the tree (say `<dir>/evil -> /etc`) is never
// followed, and the last component is opened with O_NOFOLLOW.
//
// Limit: a check-then-open race with someone swapping a directory for a link
// between the lstat and the open is not closed (Node has no openat); that
// needs write access to the store's directory, which already means full control.
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { type FileRef, type FsFacade, NOFOLLOW, errno, ioError } from './facade.js';
import { StoreError } from '../store.js';

/** The data file of a validated key. */
export function dataPath(root: string, key: string): string {
  return join(root, ...key.split('/'));
}

/**
 * Checks each parent directory of `key`: it must be a real directory (not a
 * link, not a file). Missing ones are created (and their parent fsynced) when
 * `create`, else the result is false (the key cannot exist).
 */
export async function checkParents(fs: FsFacade, root: string, key: string, create: boolean): Promise<boolean> {
  const segments = key.split('/');
  for (let i = 0; i < segments.length - 1; i++) {
    const path = join(root, ...segments.slice(0, i + 1));
    const shown = segments.slice(0, i + 1).join('/');
    for (let attempt = 0; ; attempt++) {
      let st: BigIntStats;
      try {
        st = await fs.lstat(path);
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw ioError(`lstat "${shown}"`, e);
        if (!create) return false;
        try {
          await fs.mkdir(path);
          await fs.fsyncDir(dirname(path));
        } catch (e2) {
          // Another commit may have created it in between; look again (once).
          if (errno(e2) !== 'EEXIST' || attempt > 0) throw ioError(`mkdir "${shown}"`, e2);
        }
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new StoreError('INVALID_KEY', `key ${JSON.stringify(key)}: "${shown}" is a symbolic link; the store does not follow links`);
      }
      if (!st.isDirectory()) {
        throw new StoreError('CONFLICT', `key ${JSON.stringify(key)}: "${shown}" is a file, so it cannot also be a folder`);
      }
      break;
    }
  }
  return true;
}

/**
 * Opens the data file of `key` without following links. NOT_FOUND if it does
 * not exist or is not a regular file; INVALID_KEY if it is a link.
 */
export async function openData(fs: FsFacade, root: string, key: string, flags: number): Promise<FileRef> {
  if (!(await checkParents(fs, root, key, false))) throw notFound(key);
  let f: FileRef;
  try {
    f = await fs.open(dataPath(root, key), flags | NOFOLLOW);
  } catch (e) {
    const code = errno(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw notFound(key);
    if (code === 'ELOOP') throw new StoreError('INVALID_KEY', `key ${JSON.stringify(key)} is a symbolic link; the store does not follow links`);
    throw ioError(`open ${JSON.stringify(key)}`, e);
  }
  let regular = false;
  try {
    regular = (await fs.fstat(f)).isFile();
  } finally {
    if (!regular) await fs.close(f).catch(() => undefined);
  }
  if (!regular) throw notFound(key);
  return f;
}

/** NOT_FOUND for a key. */
export function notFound(key: string): StoreError {
  return new StoreError('NOT_FOUND', `key ${JSON.stringify(key)} does not exist`);
}
