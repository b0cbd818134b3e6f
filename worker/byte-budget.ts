// A byte budget for buffers held in memory at once across all sessions:
// request bodies (parts, signature batches, plans; endpoint.ts) and the fs
// store's copy buffers (fs-staging.ts). A request waits for room before it
// reads its body, so the server's memory for bodies stays at the budget
// whatever the number of requests in flight; a waiting request's bytes stay
// in the socket (TCP backpressure). A client sends 4 parts of 8 MiB at once by default: holding
// all four (and the pieces they were read in) put ~64 MiB on the Node
// server's peak RSS. Web APIs only (shared with workerd).

/**
 * Counts bytes in flight against a budget.
 * @example const out = await budget.run(body.length, () => handle(body))
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: Array<{ bytes: number; go: () => void }> = [];

  constructor(
    /** Total bytes; one request larger than this still runs, alone. */
    readonly max: number,
  ) {}

  /** Runs `fn` once `bytes` fit in the budget (first come, first served), then gives them back. */
  async run<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    if (this.waiting.length === 0 && this.fits(bytes)) this.used += bytes;
    else await new Promise<void>((go) => this.waiting.push({ bytes, go })); // wake() counts them
    try {
      return await fn();
    } finally {
      this.used -= bytes;
      this.wake();
    }
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.max;
  }

  private wake(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.go();
    }
  }
}
