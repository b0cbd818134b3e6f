import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../worker/buffer-pool.js';

describe('BufferPool.borrow', () => {
  it('never has more than `limit` buffers out, and reuses them', async () => {
    const pool = new BufferPool(16, 2, 2);
    let out = 0;
    let peak = 0;
    const seen = new Set<ArrayBufferLike>();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        pool.borrow(async (buf) => {
          peak = Math.max(peak, ++out);
          seen.add(buf.buffer);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          out--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(seen.size).toBe(2);
  });

  it('frees the slot when the task fails', async () => {
    const pool = new BufferPool(16, 1, 1);
    await expect(pool.borrow(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await pool.borrow(async (buf) => buf.length)).toBe(16);
  });
});
