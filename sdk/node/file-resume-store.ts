// Resume records on disk, for Node and the CLI (browsers keep theirs in
// IndexedDB: browser/idb-store.ts). One JSON file per record and one per
// signature, named by a hash of the record id (endpoint and key), written
// to a temporary name and renamed, so a push killed mid-write leaves the
// previous record whole. Typed arrays are kept as base64.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ResumeRecord, ResumeStore, StoredSignature } from '../push/resume.js';

/** Where the CLI keeps resume records: $XDG_STATE_HOME/deltaflare/resume, else ~/.local/state/deltaflare/resume. */
export function defaultResumeDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'deltaflare', 'resume');
}

/**
 * A ResumeStore in `dir` (created on first write).
 * @example await push('./disk.img', { endpoint, key: 'disk.img', resume: fileResumeStore(defaultResumeDir()) })
 */
export function fileResumeStore(dir: string): ResumeStore {
  const name = (id: string) => createHash('sha256').update(id).digest('hex').slice(0, 32);
  const path = (id: string, kind: 'record' | 'signature') => join(dir, `${name(id)}.${kind}.json`);
  // Writes of one file go one after another, in the order asked: the last record written is the one kept.
  const writing = new Map<string, Promise<void>>();
  let seq = 0;
  const write = (file: string, value: unknown): Promise<void> => {
    const text = JSON.stringify(value, typedArrays); // now: the caller may change the record after put()
    const next = (writing.get(file) ?? Promise.resolve()).then(async () => {
      await mkdir(dir, { recursive: true });
      const temp = `${file}.${process.pid}.${++seq}.tmp`;
      await writeFile(temp, text);
      await rename(temp, file);
    });
    const settled = next.catch(() => undefined);
    writing.set(file, settled);
    void settled.then(() => writing.get(file) === settled && writing.delete(file));
    return next;
  };
  const read = async <T>(file: string): Promise<T | undefined> => {
    try {
      return JSON.parse(await readFile(file, 'utf8'), revive) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (e instanceof SyntaxError) return undefined; // a damaged record is no record: the push starts over
      throw e;
    }
  };
  return {
    get: (id) => read<ResumeRecord>(path(id, 'record')),
    put: (record) => write(path(record.id, 'record'), record),
    async delete(id) {
      for (const file of [path(id, 'record'), path(id, 'signature')]) {
        await writing.get(file); // a write still under way would bring the file back
        await rm(file, { force: true });
      }
    },
    async list() {
      const files = await readdir(dir).catch(() => [] as string[]);
      const records = await Promise.all(files.filter((f) => f.endsWith('.record.json')).map((f) => read<ResumeRecord>(join(dir, f))));
      return records.filter((r): r is ResumeRecord => r !== undefined);
    },
    getSignature: (id) => read<StoredSignature>(path(id, 'signature')),
    async putSignature(id, signature) {
      if (signature) await write(path(id, 'signature'), signature);
      else {
        await writing.get(path(id, 'signature'));
        await rm(path(id, 'signature'), { force: true });
      }
    },
  };
}

type Typed = Uint8Array | Uint32Array | Float64Array;
const KINDS = { Uint8Array, Uint32Array, Float64Array } as const;

/** JSON.stringify's replacer: a typed array as { $typed: kind, base64 }. */
function typedArrays(this: unknown, _key: string, value: unknown): unknown {
  for (const [kind, Kind] of Object.entries(KINDS)) {
    if (value instanceof Kind) {
      const bytes = Buffer.from((value as Typed).buffer, (value as Typed).byteOffset, (value as Typed).byteLength);
      return { $typed: kind, base64: bytes.toString('base64') };
    }
  }
  return value;
}

/** JSON.parse's reviver: the typed arrays back. */
function revive(_key: string, value: unknown): unknown {
  const v = value as { $typed?: keyof typeof KINDS; base64?: string } | null;
  if (!v || typeof v !== 'object' || !v.$typed || typeof v.base64 !== 'string' || !(v.$typed in KINDS)) return value;
  const bytes = Buffer.from(v.base64, 'base64');
  const Kind = KINDS[v.$typed];
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Kind(copy.buffer, 0, copy.length / Kind.BYTES_PER_ELEMENT);
}
