import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { SyncSource } from '../source.js';

/** A file on disk as a source; reads are positional, so several may run at once. */
export async function fileSource(path: string): Promise<SyncSource> {
  const handle = await open(path, 'r');
  const stat = await handle.stat();
  return {
    size: stat.size,
    name: basename(path),
    lastModified: stat.mtimeMs,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, stat.size - offset));
      const buffer = new Uint8Array(n);
      for (let done = 0; done < n; ) {
        const { bytesRead } = await handle.read(buffer, done, n - done, offset + done);
        if (bytesRead === 0) throw new Error(`${path} shrank while being read (at ${offset + done} of ${stat.size} bytes)`);
        done += bytesRead;
      }
      return buffer;
    },
    close: () => handle.close(),
  };
}
