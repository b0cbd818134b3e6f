// A per-key mutex inside one process: commits, in-place opens and deletes of
// one key run one at a time, in arrival order. Several processes sharing one
// store directory are not coordinated (see fs-store.ts).

/**
 * Runs tasks for the same name one after another.
 *
 * @example
 * const locks = new KeyLocks();
 * await locks.run('disk.img', () => commitSteps());
 */
export class KeyLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task for `name` has settled. */
  async run<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(name, tail);
    try {
      return await result;
    } finally {
      // Forget the name once nothing is queued behind us, so the map stays small.
      if (this.tails.get(name) === tail) this.tails.delete(name);
    }
  }
}
