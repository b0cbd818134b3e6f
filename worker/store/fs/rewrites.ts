// What the fs store knows in-process about handles in use: in-place
// rewrites per key (and a generation readers compare after each read), and
// operations in flight per staging or in-place id, sealed once its commit
// begins (a write landing after the rename would change the committed file).
import { StoreError } from '../store.js';

/** The file an in-place rewrite works on: its handle id and the inode it rewrites. */
export interface RewriteState {
  id: string;
  dev: string;
  ino: string;
}

/** In-place rewrites and in-flight operations of one store. */
export class Rewrites {
  private readonly inPlace = new Map<string, RewriteState>();
  /** Bumped when an in-place rewrite of a key starts. */
  private readonly generations = new Map<string, number>();
  private readonly activity = new Map<string, { ops: number; sealed: boolean }>();

  /** The key's active in-place rewrite, if any. */
  active(key: string): RewriteState | undefined {
    return this.inPlace.get(key);
  }

  /** A number that changes whenever an in-place rewrite of `key` starts. */
  generation(key: string): number {
    return this.generations.get(key) ?? 0;
  }

  /** Marks `key` as rewritten in place by `state`: open readers fail from their next read on. */
  start(key: string, state: RewriteState): void {
    this.inPlace.set(key, state);
    this.generations.set(key, this.generation(key) + 1);
  }

  /** Ends the rewrite `id` of `key` (if still the active one). */
  end(key: string, id: string): void {
    if (this.inPlace.get(key)?.id === id) this.inPlace.delete(key);
  }

  /** Ends whatever rewrite of `key` is active (its file was replaced or deleted). */
  drop(key: string): void {
    this.inPlace.delete(key);
  }

  /** Counts an operation on a handle as in flight (CONFLICT if its commit has begun). */
  enter(id: string): void {
    const a = this.activity.get(id) ?? { ops: 0, sealed: false };
    if (a.sealed) throw new StoreError('CONFLICT', `staging ${id} is being committed; no more writes`);
    a.ops++;
    this.activity.set(id, a);
  }

  leave(id: string): void {
    const a = this.activity.get(id);
    if (a && --a.ops === 0 && !a.sealed) this.activity.delete(id);
  }

  /** Refuses further operations on `id` while it commits (CONFLICT if some are in flight). */
  seal(id: string): void {
    const a = this.activity.get(id);
    if (a && a.ops > 0) throw new StoreError('CONFLICT', `staging ${id} has ${a.ops} operation(s) in flight; commit after they finish`);
    this.activity.set(id, { ops: 0, sealed: true });
  }

  /** After a commit: the handle is spent (committed) or may be used again (failed). */
  unseal(id: string): void {
    this.activity.delete(id);
  }
}
