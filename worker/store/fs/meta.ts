// Per-key metadata of the fs store under `<dir>/.deltaflare/keys/<sha256(key)>/`:
// the version record, the in-place marker and the manifests. Every write is
// temp + fsync + rename + fsync(dir) (writeFileAtomic), so a crash leaves the
// old or the new file. See fs-store.ts for the whole layout.
import type { Metadata } from '../../../core/protocol/metadata.js';
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { type Manifest, decodeManifest, encodeManifest } from '../../../core/protocol/manifest.js';
import { chunkingId } from '../../../core/protocol/chunking.js';
import { type FsFacade, errno, mkdirDurable, readSmallFile, writeFileAtomic } from './facade.js';
import { StoreError, type VersionInfo } from '../store.js';

/** What identifies one state of a data file: a rewrite, replace or touch changes at least one field. */
export interface StatId {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  /** ctime cannot be set by utimes, so restoring an old mtime by hand still changes the identity. */
  ctimeNs: string;
}

/** `version.json`: the committed version, valid only while the data file's stat still matches. */
export interface VersionRecord {
  key: string;
  id: string;
  size: number;
  root?: string;
  time: number;
  metadata?: Metadata;
  stat: StatId;
}

/** `incomplete.json`: written durably before an in-place rewrite changes a byte. */
export interface InPlaceMarker {
  key: string;
  /** The in-place handle's id (also the key's version id while incomplete). */
  id: string;
  /** The version the rewrite started from; the commit must name it. */
  basis: string;
  /** The data file being rewritten; writes through the handle check it is still this file. */
  dev: string;
  ino: string;
  created: number;
}

/** Version ids, session ids and chunking ids are used in file names: keep them to a safe alphabet. */
const SAFE_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** The stat identity of a data file. */
export function statId(st: BigIntStats): StatId {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

/** True if two identities describe the same file state. */
export function sameStat(a: StatId, b: StatId): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The version of a data file with no (matching) record: a hand-placed or changed-behind-our-back file. */
export function handPlacedVersion(st: BigIntStats): VersionInfo {
  const s = statId(st);
  const digest = createHash('sha256').update(`${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`).digest('hex');
  return { id: `h-${digest.slice(0, 32)}`, size: Number(st.size), time: Number(st.mtimeMs) };
}

/** Reads and writes one fs store's per-key metadata. */
export class FsMeta {
  constructor(
    private readonly fs: FsFacade,
    /** `<dir>/.deltaflare` */
    readonly root: string,
  ) {}

  /** SHA-256 of the key, hex: names the key's metadata folder and appears in in-place handle ids. */
  keyHash(key: string): string {
    return createHash('sha256').update(key).digest('hex');
  }

  /** `<root>/keys/<keyHash>`: fixed length whatever the key, and no nesting. */
  keyDir(key: string): string {
    return join(this.root, 'keys', this.keyHash(key));
  }

  /** The marker in a key folder named by hash (to reopen an in-place handle from its id), or null. */
  async markerByHash(hash: string): Promise<InPlaceMarker | null> {
    const m = await this.readJson<InPlaceMarker>(join(this.root, 'keys', hash, 'incomplete.json'));
    return m && typeof m.key === 'string' && this.keyHash(m.key) === hash ? m : null;
  }

  /** The recorded version, or null if none (or unreadable: the data then reads as hand-placed). */
  async readRecord(key: string): Promise<VersionRecord | null> {
    const rec = await this.readJson<VersionRecord>(join(this.keyDir(key), 'version.json'));
    return rec && rec.key === key && rec.stat ? rec : null;
  }

  async writeRecord(rec: VersionRecord): Promise<void> {
    await this.writeJson(rec.key, 'version.json', rec);
  }

  /** The in-place marker, or null. An unreadable marker still marks the key incomplete (never serve torn bytes). */
  async readMarker(key: string): Promise<InPlaceMarker | null> {
    const path = join(this.keyDir(key), 'incomplete.json');
    if (!(await readSmallFile(this.fs, path))) return null;
    const m = await this.readJson<InPlaceMarker>(path);
    return m && m.key === key ? m : { key, id: 'ip-unreadable', basis: '', dev: '', ino: '', created: 0 };
  }

  async writeMarker(m: InPlaceMarker): Promise<void> {
    await this.writeJson(m.key, 'incomplete.json', m);
  }

  /** Removes the marker durably (no-op if absent). */
  async removeMarker(key: string): Promise<void> {
    try {
      await this.fs.unlink(join(this.keyDir(key), 'incomplete.json'));
    } catch (e) {
      if (errno(e) === 'ENOENT') return;
      throw e;
    }
    await this.fs.fsyncDir(this.keyDir(key));
  }

  /** The manifest of (key, version, chunking id), or null. A file that fails to decode is removed and reads as absent: it is a cache the server can rebuild. */
  async getManifest(key: string, version: string, cid: string): Promise<Manifest | null> {
    if (!SAFE_NAME.test(version) || !SAFE_NAME.test(cid)) return null;
    const path = join(this.keyDir(key), 'manifests', `${version}.${cid}.dfm`);
    const bytes = await readSmallFile(this.fs, path);
    if (!bytes) return null;
    try {
      return decodeManifest(bytes);
    } catch {
      await this.fs.unlink(path).catch(() => undefined);
      return null;
    }
  }

  /** Chunking ids with a manifest for (key, version), ascending. */
  async listManifests(key: string, version: string): Promise<string[]> {
    const entries = await this.fs.readdir(join(this.keyDir(key), 'manifests')).catch(() => []);
    const prefix = `${version}.`;
    return entries
      .filter((e) => e.name.startsWith(prefix) && e.name.endsWith('.dfm'))
      .map((e) => e.name.slice(prefix.length, -4))
      .sort();
  }

  async putManifest(key: string, version: string, manifest: Manifest): Promise<void> {
    const cid = chunkingId(manifest.chunking);
    if (!SAFE_NAME.test(version)) throw new StoreError('INVALID_ARGUMENT', `version id ${JSON.stringify(version)} is not a store version id`);
    const dir = join(this.keyDir(key), 'manifests');
    await mkdirDurable(this.fs, dir);
    await writeFileAtomic(this.fs, join(dir, `${version}.${cid}.dfm`), encodeManifest(manifest));
  }

  /** Deletes manifests of every version but `keep` (best effort: leftovers are never served, as ids differ). */
  async pruneManifests(key: string, keep: string): Promise<void> {
    const dir = join(this.keyDir(key), 'manifests');
    const entries = await this.fs.readdir(dir).catch(() => []);
    for (const e of entries) {
      if (!e.name.startsWith(`${keep}.`)) await this.fs.unlink(join(dir, e.name)).catch(() => undefined);
    }
  }

  /** Removes all metadata of a key. */
  async removeKey(key: string): Promise<void> {
    await this.fs.rmTree(this.keyDir(key));
  }

  private async readJson<T>(path: string): Promise<T | null> {
    const bytes = await readSmallFile(this.fs, path);
    if (!bytes) return null;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch {
      return null;
    }
  }

  private async writeJson(key: string, name: string, value: unknown): Promise<void> {
    const dir = this.keyDir(key);
    await mkdirDurable(this.fs, dir);
    await writeFileAtomic(this.fs, join(dir, name), new TextEncoder().encode(JSON.stringify(value)));
  }
}
