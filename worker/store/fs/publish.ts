// The fs store's commit, once the key's lock is held: the staged file (or
// the in-place rewrite) becomes the key's data file, durably, then its
// version record and manifest are written (the order is in store.ts's
// layout comment: a crash at any point leaves the old bytes or the new ones).
import { randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CommitOptions, StoreError, type VersionInfo, conflict } from '../store.js';
import { type FileRef, type FsFacade, O_RDWR, errno } from './facade.js';
import { type FsMeta, handPlacedVersion, statId } from './meta.js';
import { checkParents, dataPath } from './paths.js';
import type { Rewrites } from './rewrites.js';

/** What the commit needs of the store. */
export interface PublishHost {
  readonly fs: FsFacade;
  readonly meta: FsMeta;
  readonly dir: string;
  readonly stagingDir: string;
  readonly rewrites: Rewrites;
  now(): number;
  /** The key's current version, or null. */
  current(key: string): Promise<VersionInfo | null>;
  openInPlaceTarget(key: string, id: string): Promise<FileRef>;
}

/** Staging ids: "st-" and 32 hex digits. */
export const STAGING_ID = /^st-[0-9a-f]{32}$/;

/** Staging -> key: check the version, fsync, rename, fsync the folder. Returns the new file's stat. */
export async function swapStaged(h: PublishHost, key: string, stagingId: string, opts: CommitOptions): Promise<BigIntStats> {
  if (!STAGING_ID.test(stagingId)) throw new StoreError('INVALID_ARGUMENT', `${JSON.stringify(stagingId)} is not a staging id`);
  const cur = await h.current(key);
  if ((cur?.id ?? null) !== opts.expectedVersion) throw conflict(key, cur?.id ?? null, opts.expectedVersion);
  const from = join(h.stagingDir, stagingId);
  const to = dataPath(h.dir, key);
  const f = await h.fs.open(from, O_RDWR).catch((e) => {
    throw errno(e) === 'ENOENT' ? new StoreError('NOT_FOUND', `staging ${stagingId} does not exist`) : e;
  });
  try {
    const size = Number((await h.fs.fstat(f)).size);
    if (opts.manifest && opts.manifest.size !== size)
      throw new StoreError('INVALID_ARGUMENT', `manifest size ${opts.manifest.size} is not the staged size ${size}`);
    await checkParents(h.fs, h.dir, key, true);
    const there = await h.fs.lstat(to).catch(() => null);
    if (there?.isDirectory()) throw new StoreError('CONFLICT', `key ${JSON.stringify(key)} is a folder of other keys`);
    await h.fs.fsync(f);
    await h.fs.rename(from, to);
    h.rewrites.drop(key); // an in-place rewrite of the old file (if any) is over
    await h.fs.fsyncDir(dirname(to));
    return await h.fs.fstat(f); // after the rename, which changes ctime
  } finally {
    await h.fs.close(f).catch(() => undefined);
  }
}

/** In-place commit: the marker must be this handle's and name `expectedVersion` as its basis; fsync the file. */
export async function swapInPlace(h: PublishHost, key: string, id: string, opts: CommitOptions): Promise<BigIntStats> {
  const marker = await h.meta.readMarker(key);
  if (!marker || marker.id !== id) throw new StoreError('CONFLICT', `in-place rewrite ${id} of ${JSON.stringify(key)} is not active`);
  if (marker.basis !== opts.expectedVersion) throw conflict(key, marker.basis, opts.expectedVersion);
  if (h.rewrites.active(key)?.id !== id) h.rewrites.start(key, { id, dev: marker.dev, ino: marker.ino });
  const f = await h.openInPlaceTarget(key, id);
  try {
    const size = Number((await h.fs.fstat(f)).size);
    if (opts.manifest && opts.manifest.size !== size)
      throw new StoreError('INVALID_ARGUMENT', `manifest size ${opts.manifest.size} is not the file's size ${size}`);
    await h.fs.fsync(f);
    h.rewrites.drop(key);
    return await h.fs.fstat(f);
  } finally {
    await h.fs.close(f).catch(() => undefined);
  }
}

/** After the data is in place: version record, manifest, marker removal (see commit). */
export async function recordVersion(h: PublishHost, key: string, st: BigIntStats, opts: CommitOptions): Promise<VersionInfo> {
  const info: VersionInfo = {
    id: `v-${randomBytes(16).toString('hex')}`,
    size: Number(st.size),
    time: h.now(),
    ...(opts.root ? { root: opts.root } : {}),
    ...(opts.metadata ? { metadata: opts.metadata } : {}),
  };
  let ok = await h.meta.writeRecord({ key, ...info, stat: statId(st) }).then(
    () => true,
    () => false,
  );
  if (ok && opts.manifest)
    ok = await h.meta.putManifest(key, info.id, opts.manifest).then(
      () => true,
      () => false,
    );
  const unmarked = await h.meta.removeMarker(key).then(
    () => true,
    () => false,
  );
  if (ok && unmarked) {
    await h.meta.pruneManifests(key, info.id);
    return info;
  }
  return (await h.current(key).catch(() => null)) ?? handPlacedVersion(st);
}
