// The basis manifest cache: after a commit the superseded version's entry is
// dropped (it held ~56 B per chunk until evicted), so a session still diffing
// against that version learns at its next batch that the key moved on; a
// manifest larger than the cache is kept alone, read once for all batches.
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../core/protocol/messages.js';
import { encodeSignatures } from '../../core/protocol/wire.js';
import { expectError, json, push, sendAll, sendCommit, start } from './client.js';
import { kernels as k, makeApp, randomBytes } from './setup.js';
import { ManifestCache } from '../../worker/manifests.js';
import { MemoryStore } from '../../worker/store/memory.js';
import { DEFAULT_LIMITS } from '../../core/base/limits.js';
import { put } from './store/helpers.js';
import { DEFAULT_CHUNKING } from '../../core/protocol/chunking.js';

const KiB = 1024;

describe('manifest cache', () => {
  it('should drop the manifest of a version a commit superseded: a batch against it answers VERSION_CONFLICT', async () => {
    const { send } = await makeApp();
    const v1 = randomBytes(256 * KiB, 50);
    await push(send, k, v1, { key: 'm.bin' });
    const edited = v1.slice();
    edited.fill(7, 1000, 9000);
    const a = await start(send, k, edited, { key: 'm.bin' });
    const b = await start(send, k, edited, { key: 'm.bin' });
    expect(b.chunks.crcs.length).toBeLessThan(1000); // one batch: the resend below is identical
    const batch = encodeSignatures({ firstIndex: 0, crcs: b.chunks.crcs, lengths: b.chunks.lengths });
    const resend = () => send(`/v1/sessions/${b.session.id}/match`, { method: 'POST', body: batch.slice() });
    expect((await resend()).status).toBe(200); // against the cached basis
    await sendAll(send, a);
    await json<FileInfo>(await sendCommit(send, a));
    await expectError(resend(), 409, 'VERSION_CONFLICT');
  });

  it('should read a basis manifest larger than the cache once for all the batches of a push, keeping it alone', async () => {
    const store = new MemoryStore();
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, name) {
        const v = Reflect.get(target, name);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (name === 'getManifest') reads++;
          return v.apply(target, args);
        };
      },
    });
    const small = await put(store, 'small.bin', randomBytes(64 * KiB, 51), null);
    const big = await put(store, 'big.bin', randomBytes(512 * KiB, 52), null);
    const cache = new ManifestCache(counting, k, 20, DEFAULT_LIMITS); // 20 chunks: 512 KiB at 8 KiB is ~64
    await cache.get('small.bin', small.id, DEFAULT_CHUNKING);
    for (let batch = 0; batch < 5; batch++) await cache.get('big.bin', big.id, DEFAULT_CHUNKING);
    expect(reads).toBe(2); // the small one, then the big one once (it was built once and stored: read back by get)
    await cache.get('small.bin', small.id, DEFAULT_CHUNKING);
    expect(reads).toBe(3); // evicted by the big one, which is kept alone
  });
});
