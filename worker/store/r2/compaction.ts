// Compaction: keeps a version's recipe short. Every delta push adds a few
// extents (the new literal pieces, and the old extents they split), and a
// first push one per part; reads make one R2 call per extent. Past
// COMPACT_AT extents the key's Durable Object rewrites runs of neighbouring
// extents into fresh objects ("c/<hex>", R2 multipart), a few parts per alarm
// invocation so each stays well inside the CPU limit, and publishes the next
// generation of the recipe. It picks the runs that cost the fewest bytes
// (neighbours with the smallest sum merge first, as restic's prune repacks
// the packs with the least live data), so a delta's small pieces merge with
// each other before a large extent is rewritten. Resumable: the job and its
// part ETags are rows in SQLite; a compaction whose version was replaced is
// abandoned (its object, never referenced, is collected).
//
// The same steps keep a flat copy when the Worker has FLAT_PREFIX: once the
// current version needs no compaction, its bytes are written as one object
// "<FLAT_PREFIX><key>" (custom metadata "deltaflare-version": its version
// id), for users who serve the bucket directly. Nothing reads it back; it
// trails the current version by the time its parts take.
import { randomHex } from '../../../core/protocol/hex.js';
import type { Db, Extent } from './db.js';
import { partSizeFor, segments, uploadSegments } from './multipart.js';
import type { Objects } from './objects.js';
import { type Recipe, encodeRecipe, objectsOf, recipeObject, slice } from './recipe.js';
import type { Head } from './head.js';

/**
 * Extents past which a version is compacted in the background (512): a
 * first push of up to ~2 GiB in Workers' 4 MiB parts is left as it is, and a
 * whole-file GET makes at most ~512 R2 reads, each requested while the one
 * before streams.
 */
export const COMPACT_AT = 512;
/** What a compaction aims for (256 extents), so it does not start again after the next few pushes. */
export const COMPACT_TO = 256;

/** When to compact: past `at` extents, down to `to` (COMPACT_AT and COMPACT_TO; tests use fewer). */
export interface CompactionBounds {
  at: number;
  to: number;
}
/** The most a COMPACTION may set `at` to (900): a version of that many extents reads within one request's R2 calls (store.ts's MAX_READ_CALLS). */
export const MAX_COMPACT_AT = 900;
/** Largest compacted object (1 GiB): a bound on what one run rewrites. */
const TARGET = 1 << 30;
/** Multipart parts uploaded per step (4 of >= 5 MiB): an alarm invocation moves ~20-40 MiB. */
const STEP_PARTS = 4;

/** The metadata field of a flat copy naming the version it holds. */
export const FLAT_VERSION = 'deltaflare-version';
/** Layout prefixes a FLAT_PREFIX may not start with (store.ts's object names). */
export const LAYOUT_PREFIXES = ['h/', 'r/', 'p/', 'c/', 'd/', 'm/'];

/** What the compactor needs of the store: the key, its head and recipe, publishing a head, and the key's lock. */
export interface CompactorHost {
  key(): string | null;
  head(key: string): Promise<{ meta: Head } | null>;
  recipe(meta: Head): Promise<Recipe>;
  publish(key: string, meta: Head): Promise<void>;
  locked<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** The one job a key runs at a time (a row of the compaction table): a compaction, or a flat copy (`first` -1). */
interface Job {
  obj: string;
  /** The recipe (or flat object) being read: the job is abandoned once the head names another. */
  holder: string;
  first: number;
  count: number;
  start: number;
  len: number;
  part_size: number;
  upload_id: string | null;
}

/**
 * The runs of neighbouring extents to rewrite so that at most `goal` remain:
 * repeatedly the neighbouring pair with the smallest total length merges
 * (within TARGET); then groups of two or more that touch join into one run
 * (within TARGET), so a version of many small pieces is one job, not dozens.
 * As [first, count) pairs.
 * @example planRuns([{len:1},{len:1},{len:100}], 2) // [[0, 2]]
 */
export function planRuns(extents: readonly Pick<Extent, 'len'>[], goal: number): Array<[number, number]> {
  const groups = extents.map((e, i) => ({ first: i, count: 1, len: e.len }));
  while (groups.length > goal) {
    let best = -1;
    for (let i = 0; i + 1 < groups.length; i++) {
      const sum = groups[i].len + groups[i + 1].len;
      if (sum <= TARGET && (best < 0 || sum < groups[best].len + groups[best + 1].len)) best = i;
    }
    if (best < 0) break;
    const [a, b] = [groups[best], groups[best + 1]];
    groups.splice(best, 2, { first: a.first, count: a.count + b.count, len: a.len + b.len });
  }
  const runs: typeof groups = [];
  for (const g of groups) {
    if (g.count < 2) continue;
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === g.first && last.len + g.len <= TARGET) {
      last.count += g.count;
      last.len += g.len;
    } else runs.push({ ...g });
  }
  return runs.map((g) => [g.first, g.count]);
}

/**
 * Runs a key's compaction in bounded steps.
 * @example while (await compactor.step()) {} // or one step per alarm
 */
export class Compactor {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly db: Db,
    private readonly objects: Objects,
    private readonly host: CompactorHost,
    private readonly bounds: CompactionBounds = { at: COMPACT_AT, to: COMPACT_TO },
    /** Where flat copies go (FLAT_PREFIX), or none. */
    private readonly flatPrefix?: string,
  ) {}

  /** The flat copy's name for `key`, or null without FLAT_PREFIX or when it would pass R2's 1,024-byte names. */
  flatName(key: string): string | null {
    if (!this.flatPrefix) return null;
    const name = `${this.flatPrefix}${key}`;
    return new TextEncoder().encode(name).length <= 1024 ? name : null;
  }

  /** The version the flat copy holds, as recorded when it completed. */
  private flatVersion(): string | null {
    return this.db.sql.exec<{ version: string }>('SELECT version FROM flat').toArray()[0]?.version ?? null;
  }

  /** Forgets the flat copy (its key was deleted). */
  forgetFlat(): void {
    this.db.sql.exec('DELETE FROM flat');
  }

  private job(): Job | null {
    return this.db.sql.exec<Job & Record<string, SqlStorageValue>>('SELECT * FROM compaction LIMIT 1').toArray()[0] ?? null;
  }

  /** True when a job is under way, the current version has more than COMPACT_AT extents, or its flat copy is due (the Durable Object sets an alarm). */
  async due(): Promise<boolean> {
    if (this.job()) return true;
    const key = this.host.key();
    const h = key === null ? null : await this.host.head(key);
    if (!h || h.meta.incomplete) return false;
    if (h.meta.recipe && this.wants(h.meta.id, (await this.host.recipe(h.meta)).extents.length)) return true;
    return this.flatName(key!) !== null && this.flatVersion() !== h.meta.id;
  }

  /**
   * Whether version `id` of `n` extents needs compacting: past `at`, or past
   * `to` while a compaction of it is under way (once started it goes down to
   * `to`, so the next few pushes do not start another).
   */
  private wants(id: string, n: number): boolean {
    if (n > this.bounds.at) return true;
    const going = this.db.sql.exec<{ version: string }>('SELECT version FROM compacting').toArray()[0]?.version;
    return going === id && n > this.bounds.to;
  }

  /**
   * One step: starts a job if the current version needs one, uploads up to
   * STEP_PARTS of its parts, and publishes the compacted recipe once all are
   * in. True while there is more to do.
   */
  async step(): Promise<boolean> {
    const key = this.host.key();
    if (key === null) return false;
    const started = await this.host.locked(key, () => this.start(key));
    if (!started) return false;
    const { job, recipe } = started;
    const P = job.part_size;
    const count = Math.ceil(job.len / P);
    const have = this.db.etags(job.obj);
    const missing = Array.from({ length: count }, (_, k) => k + 1).filter((n) => !have.has(n));
    const upload = this.bucket.resumeMultipartUpload(job.obj, job.upload_id!);
    for (const n of missing.slice(0, STEP_PARTS)) {
      const a = job.start + (n - 1) * P;
      const b = Math.min(job.start + job.len, a + P);
      const part = await uploadSegments(this.bucket, upload, n, segments(slice(recipe, a, b), a, b));
      this.db.sql.exec('INSERT OR REPLACE INTO parts (st, n, etag) VALUES (?, ?, ?)', job.obj, part.partNumber, part.etag);
    }
    if (missing.length > STEP_PARTS) return true;
    return this.host.locked(key, () => this.finish(key, job, recipe));
  }

  /** The job under way (abandoned if its version was replaced) or a new one; null when there is nothing to do. */
  private async start(key: string): Promise<{ job: Job; recipe: Recipe } | null> {
    const h = await this.host.head(key);
    const current = h && !h.meta.incomplete ? (h.meta.recipe ?? h.meta.data ?? null) : null;
    let job = this.job();
    // Replaced meanwhile, or cut before its upload was recorded (an upload R2 created then is aborted by the bucket's lifecycle rule).
    if (job && (job.holder !== current || job.upload_id === null)) {
      await this.abandon(job);
      job = null;
    }
    if (!current || !h) return null;
    const recipe = await this.host.recipe(h.meta);
    if (job) return { job, recipe };
    const run = h.meta.recipe && this.wants(h.meta.id, recipe.extents.length) ? planRuns(recipe.extents, this.bounds.to)[0] : undefined;
    if (run) {
      this.db.sql.exec('INSERT OR REPLACE INTO compacting (one, version) VALUES (1, ?)', h.meta.id);
      const [first, n] = run;
      const start = recipe.extents[first].dst;
      const last = recipe.extents[first + n - 1];
      const obj = `c/${randomHex(16)}`;
      this.objects.own(obj); // before the upload exists; the job row holds it (objects.ts)
      return { job: await this.open({ obj, holder: current, first, count: n, start, len: last.dst + last.len - start }), recipe };
    }
    const flat = this.flatName(key);
    if (flat === null || this.flatVersion() === h.meta.id) return null;
    if (recipe.size === 0) {
      await this.bucket.put(flat, new Uint8Array(0), { customMetadata: { [FLAT_VERSION]: h.meta.id } });
      this.db.sql.exec('INSERT OR REPLACE INTO flat (one, version) VALUES (1, ?)', h.meta.id);
      return null;
    }
    return { job: await this.open({ obj: flat, holder: current, first: -1, count: 0, start: 0, len: recipe.size }, h.meta.id), recipe };
  }

  /** Records a job, then creates its multipart upload (a flat copy's carries its version as metadata). */
  private async open(j: Omit<Job, 'part_size' | 'upload_id'>, flatVersion?: string): Promise<Job> {
    const part_size = partSizeFor(j.len);
    this.db.sql.exec(
      'INSERT INTO compaction (obj, holder, first, count, start, len, part_size) VALUES (?, ?, ?, ?, ?, ?, ?)',
      j.obj,
      j.holder,
      j.first,
      j.count,
      j.start,
      j.len,
      part_size,
    );
    const upload = await this.bucket.createMultipartUpload(j.obj, flatVersion ? { customMetadata: { [FLAT_VERSION]: flatVersion } } : undefined);
    this.db.sql.exec('UPDATE compaction SET upload_id = ? WHERE obj = ?', upload.uploadId, j.obj);
    return { ...j, part_size, upload_id: upload.uploadId };
  }

  /** Completes the object and publishes the recipe's next generation, if the version is still current. */
  private async finish(key: string, job: Job, recipe: Recipe): Promise<boolean> {
    const h = await this.host.head(key);
    if (!h || h.meta.incomplete || (h.meta.recipe ?? h.meta.data) !== job.holder) {
      await this.abandon(job);
      return this.due();
    }
    const parts = [...this.db.etags(job.obj)].sort((a, b) => a[0] - b[0]).map(([partNumber, etag]) => ({ partNumber, etag }));
    await this.bucket.resumeMultipartUpload(job.obj, job.upload_id!).complete(parts);
    if (job.first === -1) {
      this.db.sql.exec('INSERT OR REPLACE INTO flat (one, version) VALUES (1, ?)', h.meta.id);
      this.drop(job);
      return this.due();
    }
    const extents = [
      ...recipe.extents.slice(0, job.first),
      { dst: job.start, len: job.len, obj: job.obj, off: 0 },
      ...recipe.extents.slice(job.first + job.count),
    ];
    const next: Recipe = { size: recipe.size, extents };
    const [, hex, gen] = job.holder.split('/');
    const name = recipeObject(hex, Number(gen) + 1);
    this.objects.own(name);
    this.objects.hold(name, [name, ...objectsOf(next)]);
    await this.bucket.put(name, encodeRecipe(next));
    await this.host.publish(key, { ...h.meta, recipe: name }); // same version, same bytes: readers see the old recipe or the new, both exact
    this.objects.release(job.holder); // a GET still on the old recipe has GRACE_MS to finish
    this.drop(job);
    return this.due();
  }

  private async abandon(job: Job): Promise<void> {
    if (job.upload_id)
      await this.bucket
        .resumeMultipartUpload(job.obj, job.upload_id)
        .abort()
        .catch(() => undefined);
    this.drop(job);
  }

  private drop(job: Job): void {
    this.db.sql.exec('DELETE FROM parts WHERE st = ?', job.obj);
    this.db.sql.exec('DELETE FROM compaction WHERE obj = ?', job.obj);
  }
}
