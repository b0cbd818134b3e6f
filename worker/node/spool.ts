// The Node server's spool (body-intake.ts): request bodies still arriving
// wait in files here instead of in the server's memory. One folder per
// server, inside the store's hidden folder (same disk as the data, never a
// tmpfs in RAM); emptied when the server starts, since one server runs per
// store directory (fs-store.ts) and a body left from a killed run is dead.
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomHex } from '../../core/protocol/hex.js';
import type { Spool, SpoolFile } from '../body-intake.js';

/**
 * Spool files in one folder.
 * @example const spool = await FsSpool.open('./data/.deltaflare/spool')
 */
export class FsSpool implements Spool {
  private constructor(private readonly dir: string) {}

  /** Empties (or makes) `dir` and spools there. */
  static async open(dir: string): Promise<FsSpool> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new FsSpool(dir);
  }

  /** A spool in `dir`, emptied (or made) on its first use: for a createApp that cannot wait. */
  static at(dir: string): Spool {
    let opened: Promise<FsSpool> | undefined;
    return {
      create: () => {
        opened ??= FsSpool.open(dir);
        return opened.then((s) => s.create());
      },
    };
  }

  async create(): Promise<SpoolFile> {
    const path = join(this.dir, randomHex(12));
    const fh = await open(path, 'wx+');
    let size = 0;
    let gone = false;
    return {
      append: async (bytes) => {
        await writeAll(fh, bytes, size);
        size += bytes.length;
      },
      readInto: async (into) => {
        for (let at = 0; at < into.length; ) {
          const { bytesRead } = await fh.read(into, at, into.length - at, at);
          if (bytesRead === 0) throw new Error(`spool file ${path} holds ${at} bytes, ${into.length} expected`);
          at += bytesRead;
        }
      },
      discard: async () => {
        if (gone) return;
        gone = true;
        await fh.close().catch(() => undefined);
        await rm(path, { force: true });
      },
    };
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at, position + at);
    at += bytesWritten;
  }
}
