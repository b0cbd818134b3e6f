// A byte budget for buffers held in memory at once across all sessions:
// request bodies (parts, signature batches, plans; body-intake.ts) and the
// fs store's copy buffers (fs-staging.ts). A body is in memory only within
// the budget (waiting for room, its bytes stay in the socket or the spool),
// so the server's memory for bodies stays at the budget whatever the number
// of requests in flight. A client sends 4 parts of 8 MiB at once by default: holding
// all four (and the pieces they were read in) put ~64 MiB on the Node
// server's peak RSS. Web APIs only (shared with workerd).

/**
 * Counts bytes in flight against a budget.
 * @example const out = await budget.run(body.length, () => handle(body))
 */
export class ByteBudget {
  private used = 0;
  /** The most bytes taken at once so far (tests and benchmarks read it). */
  peak = 0;
  private readonly waiting: Array<{ bytes: number; go: () => void }> = [];

  constructor(
    /** Total bytes; one request larger than this still runs, alone. */
    readonly max: number,
  ) {}

  /** Runs `fn` once `bytes` fit in the budget (first come, first served), then gives them back. */
  async run<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    if (!this.tryTake(bytes)) await new Promise<void>((go) => this.waiting.push({ bytes, go })); // wake() counts them
    try {
      return await fn();
    } finally {
      this.give(bytes);
    }
  }

  /** Takes `bytes` at once if they fit and nobody waits; the caller gives them back with `give`. */
  tryTake(bytes: number): boolean {
    if (this.waiting.length > 0 || !this.fits(bytes)) return false;
    this.add(bytes);
    return true;
  }

  /**
   * Takes `bytes` once they fit (in turn, as `run` does), or gives up after
   * `ms`: true if taken (give them back with `give`), false if it gave up.
   */
  async takeWithin(bytes: number, ms: number): Promise<boolean> {
    if (this.tryTake(bytes)) return true;
    return new Promise<boolean>((resolve) => {
      const waiter = {
        bytes,
        go: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return; // granted meanwhile
        this.waiting.splice(i, 1);
        this.wake(); // it may have been the head that held others back
        resolve(false);
      }, ms);
      this.waiting.push(waiter);
    });
  }

  /** Gives back bytes taken by `tryTake` or `takeWithin`. */
  give(bytes: number): void {
    this.used -= bytes;
    this.wake();
  }

  private add(bytes: number): void {
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.max;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.add(next.bytes);
      next.go();
    }
  }
}
