// One counting semaphore for the client: parts in flight (sync.ts) and
// segments or runs read ahead of the caller (signatures.ts).

/**
 * At most `n` holders at once. A released slot goes straight to the longest
 * waiter, so a newcomer arriving between a release and the waiter's wake-up
 * cannot take it too (which would let n + 1 tasks run).
 * @example const s = new Semaphore(2); await s.run(() => upload(part))
 */
export class Semaphore {
  private readonly waiting: Array<{ resolve: () => void; reject: (reason: unknown) => void }> = [];
  private failed: { reason: unknown } | undefined;

  constructor(private free: number) {}

  /** Takes a slot, waiting for one; rejects once `fail` was called. */
  acquire(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed.reason);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Gives a slot back: to the longest waiter if there is one. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.free++;
  }

  /** Runs `task` holding a slot. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Rejects every waiter, and every later acquire, with `reason`. */
  fail(reason: unknown): void {
    this.failed ??= { reason };
    for (const w of this.waiting.splice(0)) w.reject(reason);
  }
}
