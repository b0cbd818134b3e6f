// Rebuilding the new file from the plan, in the order of apply.ts: copies,
// then literals (already in staging as parts landed), then dups. A normal
// session runs its copies into its staging area as soon as the plan lands
// (overlapping network and disk; see CopyJobs) and its dups at commit. An
// in-place session does everything at commit, inside the key's own file.
import type { BasisInfo } from '../core/protocol/messages.js';
import type { CopyOp, DupOp, LiteralOp, PlanMessage } from '../core/protocol/wire.js';
import { COPY_PIECE, type CommitOptions, type Staging, type Store, type VersionInfo } from './store/store.js';

/** How many independent calls a staging area takes at once (Staging.concurrentCalls, else one). */
export function stagingConcurrency(staging: Staging): number {
  return staging.concurrentCalls ?? 1;
}

/** Runs `fn` on every item, at most `n` at once; the first failure rejects (after the running calls end). */
export async function eachLimited<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const lanes = Array.from({ length: Math.min(n, items.length) }, lane);
  const results = await Promise.allSettled(lanes);
  const bad = results.find((r) => r.status === 'rejected');
  if (bad) throw (bad as PromiseRejectedResult).reason;
}

/**
 * Copies from the basis into a staging area. Destinations never overlap
 * (plan rule), so copies may run in any order: on the fs store several at
 * once. One at a time, each copy paid its opens and metadata reads and 1 MiB
 * read/write round trips in series: 257 copies of a 256 MiB file took ~1 s
 * and the commit waited for them.
 */
export async function runCopies(staging: Staging, basis: BasisInfo, copies: readonly CopyOp[]): Promise<void> {
  await eachLimited(copies, stagingConcurrency(staging), (c) => staging.copyFrom(basis.key, basis.version, c.oldOffset, c.length, c.newOffset));
}

/** Copies `length` bytes from `src` to `dst` offset within `to`, reading `from`, in COPY_PIECE (1 MiB) pieces; ranges must not overlap. */
async function move(from: Staging, to: Staging, src: number, length: number, dst: number): Promise<void> {
  for (let done = 0; done < length; ) {
    const n = Math.min(COPY_PIECE, length - done);
    await to.writeAt(dst + done, await from.readAt(src + done, n));
    done += n;
  }
}

/** Dups within one staging area: each source is literal bytes that end before its destination (checkPlan), so order does not matter. */
export async function runDups(staging: Staging, dups: readonly DupOp[]): Promise<void> {
  for (const d of dups) await move(staging, staging, d.srcOffset, d.length, d.newOffset);
}

/**
 * The in-place rebuild of docs/protocol.md: mark the key incomplete (openInPlace),
 * grow it to max(old, new), copies in plan order with memmove semantics, then
 * the literals from the session's staging area, dups, truncate, commit. If it
 * stops half-way the key reads INCOMPLETE until a full upload replaces it.
 */
export async function rebuildInPlace(
  store: Store,
  key: string,
  basis: BasisInfo,
  plan: PlanMessage,
  literals: readonly LiteralOp[],
  literalStaging: Staging,
  opts: CommitOptions & { expectedVersion: string },
): Promise<VersionInfo> {
  const h = await store.openInPlace(key, opts.expectedVersion);
  await h.resize(Math.max(basis.size, plan.size));
  for (const c of plan.copies) await h.copyFrom(key, basis.version, c.oldOffset, c.length, c.newOffset);
  for (const l of literals) await move(literalStaging, h, l.newOffset, l.length, l.newOffset);
  for (const d of plan.dups) await move(h, h, d.srcOffset, d.length, d.newOffset);
  await h.resize(plan.size);
  return store.commit(key, h.id, opts);
}

/**
 * Copies started when a plan lands, per session. The commit awaits the job
 * and runs the copies itself if there is none (a restart) or it failed (its
 * error, e.g. the basis changed, then surfaces from the commit).
 */
export class CopyJobs {
  private readonly jobs = new Map<string, Promise<boolean>>();

  constructor(private readonly waitUntil?: (p: Promise<unknown>) => void) {}

  /** Starts the copies of a session into its staging area in the background. */
  start(id: string, staging: () => Promise<Staging>, basis: BasisInfo, copies: readonly CopyOp[]): void {
    const job = staging()
      .then((s) => runCopies(s, basis, copies))
      .then(
        () => true,
        () => false,
      );
    this.jobs.set(id, job);
    this.waitUntil?.(job);
  }

  /** Waits for the session's job; true if it finished every copy. */
  async finished(id: string): Promise<boolean> {
    return (await this.jobs.get(id)) ?? false;
  }

  forget(id: string): void {
    this.jobs.delete(id);
  }
}
