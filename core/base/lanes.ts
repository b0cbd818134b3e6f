// Tasks run in the order added, at most `concurrency` at a time, for a
// pull's requests (the range fetcher and the block refiner, sdk/pull-*.ts):
// tasks can be added while others run; the first failure is kept, stops the
// tasks not yet started, and is thrown by check() and done().

export class Lanes {
  private readonly queue: Array<() => Promise<void>> = [];
  private readonly running = new Set<Promise<void>>();
  private failure: { reason: unknown } | undefined;

  constructor(private readonly concurrency: number) {}

  /** Queues `task`, starting lanes up to the concurrency. */
  add(task: () => Promise<void>): void {
    this.queue.push(task);
    while (this.running.size < Math.max(1, this.concurrency) && this.queue.length > 0 && !this.failure) {
      const lane: Promise<void> = this.lane().then(
        () => void this.running.delete(lane),
        (reason) => {
          this.running.delete(lane);
          this.failure ??= { reason };
        },
      );
      this.running.add(lane);
    }
  }

  /** Throws the first failure, if a task failed. */
  check(): void {
    if (this.failure) throw this.failure.reason;
  }

  /** Waits for every queued task (and those added meanwhile); throws the first failure. */
  async done(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
    this.check();
  }

  /** Drops what is queued and waits for the tasks running. */
  async stop(): Promise<void> {
    this.queue.length = 0;
    await Promise.allSettled([...this.running]);
  }

  private async lane(): Promise<void> {
    for (let task = this.queue.shift(); task && !this.failure; task = this.queue.shift()) await task();
  }
}
