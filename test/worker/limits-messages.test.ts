// Every limit a request can hit is named, with its value, in the 413 message.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHUNKING } from '../../core/protocol/chunking.js';
import { createApp } from '../../worker/http/app.js';
import { FsStore } from '../../worker/store/fs/store.js';
import { expectError, json } from './client.js';
import { kernels as k, tempDir } from './setup.js';

describe('limits in messages', () => {
  it('should name maxFileSize, maxSignaturesPerBatch, maxPlanOps, partSize and maxPartOps with their values', async () => {
    const limits = { maxFileSize: 1 << 20, maxSignaturesPerBatch: 4, maxPlanOps: 3, partSize: 65536, maxPartOps: 5 };
    const app = createApp({ store: await FsStore.open(tempDir()), kernels: k, limits, log: () => undefined });
    const post = (size: number) =>
      app.request('/v1/sessions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'x.bin', size, chunking: DEFAULT_CHUNKING }),
      });
    expect(await expectError(post((1 << 20) + 1), 413, 'TOO_LARGE')).toContain('maxFileSize 1048576');
    const { id } = await json<{ id: string }>(await post(100_000), 201);
    const big = new Uint8Array(1 << 20);
    expect(await expectError(app.request(`/v1/sessions/${id}/match`, { method: 'POST', body: big }), 413, 'TOO_LARGE')).toContain('maxSignaturesPerBatch 4');
    expect(await expectError(app.request(`/v1/sessions/${id}/plan`, { method: 'PUT', body: big }), 413, 'TOO_LARGE')).toContain('maxPlanOps 3');
    const part = await expectError(app.request(`/v1/sessions/${id}/parts/0`, { method: 'PUT', body: big }), 413, 'TOO_LARGE');
    expect(part).toContain('partSize 65536');
    expect(part).toContain('maxPartOps 5');
  });
});
