import { open, stat as statPath } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { type SyncSource, sourceChangedError } from '../source.js';

/** A file on disk as a source; reads are positional, so several may run at once. */
export async function fileSource(path: string): Promise<SyncSource & { readInto(offset: number, target: Uint8Array): Promise<void> }> {
  const handle = await open(path, 'r');
  const stat = await handle.stat();
  /** Fills `target` from `offset` (the signature pass reuses its segment buffers through this). */
  const readInto = async (offset: number, target: Uint8Array): Promise<void> => {
    for (let done = 0; done < target.length; ) {
      const { bytesRead } = await handle.read(target, done, target.length - done, offset + done);
      if (bytesRead === 0) throw sourceChangedError(path, `it shrank while being read (at ${offset + done} of ${stat.size} bytes)`);
      done += bytesRead;
    }
  };
  return {
    size: stat.size,
    name: basename(path),
    lastModified: stat.mtimeMs,
    location: { path: resolve(path) },
    async read(offset, length) {
      const buffer = new Uint8Array(Math.max(0, Math.min(length, stat.size - offset)));
      await readInto(offset, buffer);
      return buffer;
    },
    readInto,
    // Written, truncated or grown in place (same inode: size or mtime differ), or replaced at its path (another inode).
    async changed() {
      const [now, atPath] = await Promise.all([handle.stat(), statPath(path).catch(() => null)]);
      return now.size !== stat.size || now.mtimeMs !== stat.mtimeMs || atPath === null || atPath.ino !== stat.ino;
    },
    close: () => handle.close(),
  };
}
