// The client's semaphore (parts in flight, reads ahead): a released slot goes
// to the waiter, never to a newcomer too.
import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../../core/base/semaphore.js';

describe('Semaphore', () => {
  it('should hand a released slot to the longest waiter, not to a newcomer arriving before it wakes', async () => {
    const s = new Semaphore(1);
    await s.acquire(); // A holds the slot
    const order: string[] = [];
    const b = s.acquire().then(() => order.push('B'));
    s.release(); // A is done: the slot is B's
    const c = s.acquire().then(() => order.push('C')); // C arrives before B has woken
    await b;
    await Promise.resolve();
    expect(order).toEqual(['B']); // C still waits: one holder
    s.release();
    await c;
    expect(order).toEqual(['B', 'C']);
  });

  it('should never run more than n tasks at once', async () => {
    const s = new Semaphore(3);
    let running = 0;
    let most = 0;
    const task = async () => {
      running++;
      most = Math.max(most, running);
      for (let i = 0; i < (running % 3) + 1; i++) await Promise.resolve();
      running--;
    };
    await Promise.all(Array.from({ length: 200 }, () => s.run(task)));
    expect(most).toBe(3);
  });

  it('should reject waiters and later acquires once failed', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const waiter = s.acquire();
    s.fail(new Error('stopped'));
    await expect(waiter).rejects.toThrow('stopped');
    await expect(s.acquire()).rejects.toThrow('stopped');
  });
});
