// The writer of a browser pull, as a dedicated module worker: the origin
// private file system's synchronous access handle exists only in workers,
// and writes through it land in the file at once (an interrupted pull keeps
// them for the next one). Vite bundles it from
// `new Worker(new URL('./opfs-worker.js', import.meta.url), { type: 'module' })`.
import { expose } from 'comlink';

/** The parts of FileSystemSyncAccessHandle used here (in TypeScript's worker library, not its DOM one). */
interface SyncAccessHandle {
  write(bytes: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

let handle: SyncAccessHandle | undefined;

const writer = {
  /** Opens `name` in the origin's root folder for writing, sized to `size` (bytes beyond it dropped, new ones zero). */
  async open(name: string, size: number): Promise<void> {
    const root = await navigator.storage.getDirectory();
    const file = (await root.getFileHandle(name, { create: true })) as FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };
    handle = await file.createSyncAccessHandle();
    if (handle.getSize() !== size) handle.truncate(size);
  },
  /** Writes `bytes` at `offset`. */
  write(offset: number, bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length; ) done += handle!.write(bytes.subarray(done), { at: offset + done });
  },
  /** Flushes and closes the handle (the file stays). */
  close(): void {
    handle?.flush();
    handle?.close();
    handle = undefined;
  },
};

export type OpfsWriter = typeof writer;
expose(writer);
