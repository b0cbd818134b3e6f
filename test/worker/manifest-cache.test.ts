// The basis manifest cache after a commit: the superseded version's entry is
// dropped (it held ~56 B per chunk until evicted), so a session still diffing
// against that version learns at its next batch that the key moved on.
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../sdk/protocol/messages.js';
import { encodeSignatures } from '../../sdk/protocol/wire.js';
import { expectError, json, push, sendAll, sendCommit, start } from './client.js';
import { kernels as k, makeApp, randomBytes } from './setup.js';

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
});
