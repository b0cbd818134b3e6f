// Memory for reads, like the body budget for writes (byte-budget.ts): a read
// that holds bytes in memory (block digests) takes them from a budget
// first. One that cannot within READ_WAIT_MS is refused with 503 BUSY and
// Retry-After, so concurrent readers cost the budget, not their count.
import { ByteBudget } from '../core/base/byte-budget.js';
import { ApiError } from './errors.js';

/** How long a read waits for room before it is refused (ms). */
export const READ_WAIT_MS = 10_000;
/** Seconds a refused reader is told to wait before asking again. */
const RETRY_AFTER_S = 2;

export class ReadBudget {
  private readonly budget: ByteBudget;

  constructor(bytes: number) {
    this.budget = new ByteBudget(bytes);
  }

  /** The most bytes held at once so far. */
  get peak(): number {
    return this.budget.peak;
  }

  /** Runs `fn` holding `bytes` of the budget; 503 BUSY if they do not fit within READ_WAIT_MS. */
  async run<T>(bytes: number, what: string, fn: () => Promise<T>, waitMs = READ_WAIT_MS): Promise<T> {
    if (!(await this.budget.takeWithin(bytes, waitMs))) {
      throw new ApiError('BUSY', `${what} waited ${waitMs} ms for the read budget (${this.budget.max} bytes): ask again`, {
        headers: { 'Retry-After': String(RETRY_AFTER_S) },
      });
    }
    try {
      return await fn();
    } finally {
      this.budget.give(bytes);
    }
  }
}
