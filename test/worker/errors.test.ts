// The one place errors become answers: codes, statuses, and what a message may say.
import { describe, expect, it } from 'vitest';
import { errorResponse } from '../../worker/errors.js';
import { StoreError } from '../../worker/store/store.js';

describe('error answers', () => {
  it('should answer a store IO error without its detail, which names server paths, and log it', async () => {
    const logged: unknown[] = [];
    const cause = Object.assign(new Error("ENOSPC: no space left on device, write '/srv/data/.deltaflare/staging/st-1/data'"), { code: 'ENOSPC' });
    const res = errorResponse(new StoreError('IO', 'write "/srv/data/.deltaflare/staging/st-1/data" failed', { cause }), (e) => logged.push(e));
    expect(res.status).toBe(507);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.message).not.toMatch(/\/srv|deltaflare\/staging/);
    expect(body.error.message).toContain('out of storage');
    expect(logged).toHaveLength(1);
  });

  it('should answer a store that is busy reorganizing with 503 BUSY and its Retry-After', async () => {
    const res = errorResponse(new StoreError('BUSY', 'the version is being compacted', { retryAfterS: 10 }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('10');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BUSY');
  });
});
