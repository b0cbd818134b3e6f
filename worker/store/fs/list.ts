// Listing the keys of an fs store: a walk of the data tree that skips the
// metadata folder, symbolic links and names that are not valid keys.
import type { Dirent } from 'node:fs';
import { type FsFacade, errno, ioError } from './facade.js';
import { META_DIR, validateKey } from '../keys.js';
import { checkParents, dataPath } from './paths.js';

/**
 * Every key starting with `prefix`, sorted by code unit (like the memory
 * store). The walk starts at the deepest folder the prefix names and only
 * enters folders that can hold matching keys; it still gathers all matches
 * before sorting, since the tree's order ("a/b" before "a-c") is not key order.
 */
export async function listKeys(fs: FsFacade, root: string, prefix: string): Promise<string[]> {
  const slash = prefix.lastIndexOf('/');
  const base = slash < 0 ? '' : prefix.slice(0, slash);
  // The base folder's path must not pass through a link (checkParents refuses links with INVALID_KEY).
  if (base && !(await checkParents(fs, root, `${base}/x`, false).catch(() => false))) return [];
  const out: string[] = [];
  await walk(fs, root, base, prefix, out);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function walk(fs: FsFacade, root: string, rel: string, prefix: string, out: string[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await fs.readdir(rel ? dataPath(root, rel) : root);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return;
    throw ioError(`list ${rel || '/'}`, e);
  }
  for (const e of entries) {
    if (!rel && e.name.toLowerCase().startsWith(META_DIR)) continue;
    const key = rel ? `${rel}/${e.name}` : e.name;
    // Dirent types come from the directory entry (lstat-like): a link is neither a directory nor a file here.
    if (e.isDirectory()) {
      if (prefix.startsWith(`${key}/`) || `${key}/`.startsWith(prefix)) await walk(fs, root, key, prefix, out);
    } else if (e.isFile() && key.startsWith(prefix) && isKey(key)) {
      out.push(key);
    }
  }
}

function isKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}
