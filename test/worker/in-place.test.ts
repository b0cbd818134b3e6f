// In-place sessions through app.request: a copy overlapping its own source
// (memmove), and a rebuild cut off half-way, which leaves the key INCOMPLETE
// until a full upload replaces it.
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../core/protocol/messages.js';
import { createApp } from '../../worker/http/app.js';
import { FsStore } from '../../worker/store/fs/store.js';
import type { Staging, Store } from '../../worker/store/store.js';
import { download, expectError, json, push, sendAll, sendCommit, start, type Send, typed } from './client.js';
import { concat, kernels as k, makeApp, randomBytes, sameBytes, tempDir } from './setup.js';

const spec = { kind: 'fixed', block: 4096 } as const;
const block = (seed: number) => randomBytes(64 * 1024, seed);

/** An fs store whose in-place handles fail on copy number `failAt` (1-based), like a crash mid-rebuild. */
async function failingStore(dir: string, failAt: { n: number }): Promise<Store> {
  const store = await FsStore.open(dir);
  const openInPlace = store.openInPlace.bind(store);
  store.openInPlace = async (key, version) => {
    const h = await openInPlace(key, version);
    let copies = 0;
    const copyFrom: Staging['copyFrom'] = (...a) => (++copies >= failAt.n ? Promise.reject(new Error('simulated crash')) : h.copyFrom(...a));
    return Object.assign(Object.create(h) as Staging, { copyFrom });
  };
  return store;
}

describe('endpoint in place', () => {
  it('should move data over its own source with memmove semantics', async () => {
    const { send } = await makeApp();
    const [A, B, C, D, X] = [1, 2, 3, 4, 5].map(block);
    await push(send, k, concat(A, B, C, D), { key: 'm.img', chunking: spec });
    const v2 = concat(X, A, B, C, D); // one copy of 256 KiB shifted right by 64 KiB
    const s = await start(send, k, v2, { key: 'm.img', chunking: spec, inPlace: true });
    expect(s.plan.copies).toEqual([{ oldOffset: 0, newOffset: 65536, length: 262144 }]);
    await sendAll(send, s);
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'm.img')).bytes, v2)).toBe('same');
    const v3 = concat(B, C, D); // shifted left, shrinking
    const s3 = await start(send, k, v3, { key: 'm.img', chunking: spec, inPlace: true });
    await sendAll(send, s3);
    await json<FileInfo>(await sendCommit(send, s3));
    expect(sameBytes((await download(send, 'm.img')).bytes, v3)).toBe('same');
  });

  it('should leave the key INCOMPLETE when a rebuild stops half-way, until a full upload', async () => {
    const dir = tempDir();
    const failAt = { n: Infinity };
    const app = createApp({ store: await failingStore(dir, failAt), kernels: k, log: () => undefined });
    const send: Send = async (path, init) => app.request(path, typed(init));
    const [A, B, C, D] = [11, 12, 13, 14].map(block);
    await push(send, k, concat(A, B, C, D), { key: 'cut.img', chunking: spec });
    const v2 = concat(B, A, D, C, randomBytes(4096, 15));
    const s = await start(send, k, v2, { key: 'cut.img', chunking: spec, inPlace: true });
    expect(s.plan.copies.length).toBeGreaterThanOrEqual(2);
    await sendAll(send, s);
    failAt.n = 2;
    await expectError(sendCommit(send, s), 500, 'INTERNAL');
    await expectError(send('/v1/files/cut.img'), 409, 'INCOMPLETE');
    const head = await send('/v1/files/cut.img', { method: 'HEAD' });
    expect([head.status, head.headers.get('x-deltaflare-error')]).toEqual([409, 'INCOMPLETE']);
    // An incremental push against the torn file is refused; a whole one (basis null, or omitted) completes the key.
    failAt.n = Infinity;
    await expectError(
      send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'cut.img', size: 10, chunking: spec, basis: 'cut.img' }) }),
      409,
      'INCOMPLETE',
    );
    const { sync } = await push(send, k, v2, { key: 'cut.img', chunking: spec });
    expect(sync.session.basis).toBeNull();
    expect(sameBytes((await download(send, 'cut.img')).bytes, v2)).toBe('same');
  });
});
