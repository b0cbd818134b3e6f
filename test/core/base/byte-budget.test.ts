// The body budget: requests beyond it wait (first come, first served), one
// larger than the budget runs alone, and the bytes come back on failure.
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../core/base/byte-budget.js';

const tick = () => new Promise((r) => setTimeout(r, 1));

describe('ByteBudget', () => {
  it('should never hold more than its budget (except one oversized body alone), in arrival order', async () => {
    const budget = new ByteBudget(20);
    let held = 0;
    let peak = 0;
    const order: number[] = [];
    const sizes = [8, 8, 8, 30, 4, 8, 12];
    await Promise.all(
      sizes.map((bytes, i) =>
        budget.run(bytes, async () => {
          order.push(i);
          held += bytes;
          peak = Math.max(peak, held);
          if (bytes > 20) expect(held).toBe(bytes); // alone
          await tick();
          held -= bytes;
        }),
      ),
    );
    expect(peak).toBe(30);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('should give the bytes back when the work fails', async () => {
    const budget = new ByteBudget(10);
    await expect(
      budget.run(10, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    let ran = false;
    await budget.run(10, async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('should take bytes within a delay when they free up in time, and give up in turn otherwise, letting the next waiter go', async () => {
    const budget = new ByteBudget(10);
    expect(budget.tryTake(8)).toBe(true);
    const late = budget.takeWithin(5, 30); // 8 + 5 > 10: waits, then gives up
    const small = budget.run(2, async () => 'ran'); // fits, but queued behind `late` until it gives up
    expect(await late).toBe(false);
    expect(await small).toBe('ran');
    const inTime = budget.takeWithin(5, 1000);
    setTimeout(() => budget.give(8), 10);
    expect(await inTime).toBe(true);
    budget.give(5);
    expect(budget.tryTake(10)).toBe(true);
  });
});
