// The R2 objects one key owns and who holds them, in the key's Durable
// Object: literal pieces, compacted objects, recipes and flat objects of the
// older layout. A holder is a version's recipe ("r/<hex>/<gen>", holding the
// recipe object and every object it reads) or an adopted flat version
// ("d/<hex>"); staging areas hold the objects their extents point to, and a
// compaction its target. An object is deleted only when nothing holds it and
// it is older than the grace period, so:
// - never deleted while referenced: the current version's holder is live
//   (checked against the head before anything is dropped), a replaced one
//   stays GRACE_MS for reads and other keys' sessions still on it, and a
//   piece being written is younger than GRACE_MS;
// - never leaked: an object row is written before the object, a holder left
//   live by a crash between its commit's steps is released by the next
//   collection, and every unheld object is deleted once old enough.
// The same discipline as restic's prune and casync's chunk-store GC: mark
// from the roots (holders), sweep the rest, after a grace period.
import type { Db } from './db.js';

/**
 * A replaced version's objects stay one hour (3,600,000 ms): long enough for
 * GETs still streaming it and sessions of other keys copying from it to
 * finish, short enough that a file pushed every few minutes is not stored
 * many times over. A session that takes longer fails its commit with
 * VERSION_CONFLICT, never with wrong bytes.
 */
export const GRACE_MS = 3_600_000;
/** Objects deleted per R2 call (R2's limit for one delete). */
const DELETE_BATCH = 1000;

/**
 * Ownership and holds of one key's objects.
 * @example objects.own('p/ab/1'); objects.hold('r/ab/0', ['r/ab/0', 'p/ab/1'])
 */
export class Objects {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {}

  /** Records that this key owns `obj`: call before the object is written. */
  own(obj: string, born = this.now()): void {
    this.db.sql.exec('INSERT OR IGNORE INTO objects (obj, born) VALUES (?, ?)', obj, born);
  }

  owns(obj: string): boolean {
    return this.db.sql.exec('SELECT 1 FROM objects WHERE obj = ?', obj).toArray().length > 0;
  }

  /** True if any holder (live or in its grace period) holds `obj`. */
  held(obj: string): boolean {
    return this.db.sql.exec('SELECT 1 FROM refs WHERE obj = ? LIMIT 1', obj).toArray().length > 0;
  }

  /** Makes `holder` a live holder of `objs` (replacing what it held). */
  hold(holder: string, objs: readonly string[]): void {
    this.db.sql.exec('DELETE FROM refs WHERE holder = ?', holder);
    this.db.sql.exec('INSERT OR REPLACE INTO holders (holder, until) VALUES (?, NULL)', holder);
    for (const obj of objs) this.db.sql.exec('INSERT OR IGNORE INTO refs (holder, obj) VALUES (?, ?)', holder, obj);
  }

  /** Lets `holder` go after the grace period (no-op if it is not held or already going). */
  release(holder: string): void {
    this.db.sql.exec('UPDATE holders SET until = ? WHERE holder = ? AND until IS NULL', this.now() + GRACE_MS, holder);
  }

  /** Live holders other than `current` (the key's head now): a crash between a commit's publish and its release leaves one. */
  strays(current: string | null): string[] {
    return this.db.sql
      .exec<{ holder: string }>('SELECT holder FROM holders WHERE until IS NULL AND holder IS NOT ?', current)
      .toArray()
      .map((r) => r.holder);
  }

  /**
   * Drops holders whose grace period ended, except `current` (made live again:
   * its release raced a crash), and answers the version hexes none of
   * whose generations is held any more (their manifests may go).
   */
  expire(now: number, current: string | null): string[] {
    if (current) this.db.sql.exec('UPDATE holders SET until = NULL WHERE holder = ?', current);
    const gone = this.db.sql
      .exec<{ holder: string }>('SELECT holder FROM holders WHERE until IS NOT NULL AND until <= ?', now)
      .toArray()
      .map((r) => r.holder);
    for (const h of gone) {
      this.db.sql.exec('DELETE FROM refs WHERE holder = ?', h);
      this.db.sql.exec('DELETE FROM holders WHERE holder = ?', h);
    }
    const hexes = new Set(gone.map(versionHexOf));
    return [...hexes].filter((x) => this.db.sql.exec('SELECT 1 FROM holders WHERE holder LIKE ?', `_/${x}%`).toArray().length === 0);
  }

  /** Owned objects nothing holds (no holder, staging extent or compaction) and older than the grace period, at most one R2 delete's worth. */
  unheld(now: number): string[] {
    return this.db.sql
      .exec<{ obj: string }>(
        `SELECT obj FROM objects WHERE born <= ?
           AND NOT EXISTS (SELECT 1 FROM refs WHERE refs.obj = objects.obj)
           AND NOT EXISTS (SELECT 1 FROM extents WHERE extents.obj = objects.obj)
           AND NOT EXISTS (SELECT 1 FROM compaction WHERE compaction.obj = objects.obj)
         LIMIT ?`,
        now - GRACE_MS,
        DELETE_BATCH,
      )
      .toArray()
      .map((r) => r.obj);
  }

  /** Forgets objects already deleted from R2. */
  forget(objs: readonly string[]): void {
    for (const obj of objs) this.db.sql.exec('DELETE FROM objects WHERE obj = ?', obj);
  }

  /** True while a collection has work ahead: a released holder, a compaction, or an owned object nothing holds (the Durable Object keeps its alarm). */
  pending(): boolean {
    return (
      this.db.sql
        .exec(
          `SELECT 1 FROM holders WHERE until IS NOT NULL UNION ALL SELECT 1 FROM compaction UNION ALL
           SELECT 1 FROM objects WHERE NOT EXISTS (SELECT 1 FROM refs WHERE refs.obj = objects.obj) LIMIT 1`,
        )
        .toArray().length > 0
    );
  }
}

/**
 * The names under `prefix`, a page (up to 1,000) at a time.
 * @example for await (const names of pages(bucket, 'm/ab/')) await bucket.delete(names);
 */
export async function* pages(bucket: R2Bucket, prefix: string): AsyncGenerator<string[]> {
  for (let cursor: string | undefined; ; ) {
    const page = await bucket.list({ prefix, cursor });
    yield page.objects.map((o) => o.key);
    if (!page.truncated) return;
    cursor = page.cursor;
  }
}

/** The version hex of a holder: "r/<hex>/<gen>" or "d/<hex>". */
export function versionHexOf(holder: string): string {
  return holder.split('/')[1];
}
