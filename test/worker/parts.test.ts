// Parts and commit checks through app.request: any order, resends,
// conflicts, corruption, early commits, a wrong root, expiry.
import { describe, expect, it } from 'vitest';
import type { FileInfo } from '../../core/protocol/messages.js';
import { download, expectError, json, push, sendAll, sendCommit, sendPart, sendPlan, start } from './client.js';
import { concat, kernels as k, makeApp, randomBytes, sameBytes, snapshot } from './setup.js';

const KiB = 1024;

describe('endpoint parts and commit', () => {
  it('should accept parts out of order and concurrently, and identical resends', async () => {
    const { send } = await makeApp({ limits: { partSize: 128 * KiB } });
    const data = randomBytes(1024 * KiB, 20);
    const s = await start(send, k, data, { key: 'p.bin' });
    expect(s.partBodies.length).toBeGreaterThan(6);
    expect((await sendPlan(send, s)).status).toBe(204);
    expect((await sendPlan(send, s)).status).toBe(204); // identical plan again
    // Reverse order, all at once, part 2 twice while neither copy has landed.
    const order = [...s.partBodies.map((_, i) => i).reverse(), 2];
    const first = await Promise.all(order.map((n) => sendPart(send, s, n)));
    expect(first.map((r) => r.status)).toEqual(order.map(() => 204));
    // The same part twice at once, and once more after it landed.
    const twice = await Promise.all([sendPart(send, s, 0), sendPart(send, s, 0), sendPart(send, s, 3)]);
    expect(twice.map((r) => r.status)).toEqual([204, 204, 204]);
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'p.bin')).bytes, data)).toBe('same');
  });

  it('should answer PART_CONFLICT for a part, plan or batch sent again with different bytes', async () => {
    const { send } = await makeApp({ limits: { partSize: 128 * KiB } });
    const data = randomBytes(512 * KiB, 21);
    const s = await start(send, k, data, { key: 'c.bin' });
    const other = await start(send, k, randomBytes(512 * KiB, 22), { key: 'c2.bin' });
    await sendAll(send, s);
    // Part 1 of another file (same number, different bytes and offsets).
    await expectError(sendPart(send, s, 1, other.partBodies[1]), 409, 'PART_CONFLICT');
    const plan2 = s.planBody.slice();
    plan2[16] ^= 1; // size differs
    await expectError(send(`/v1/sessions/${s.session.id}/plan`, { method: 'PUT', body: plan2 }), 409, 'PART_CONFLICT');
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'c.bin')).bytes, data)).toBe('same');
  });

  it('should count inflated payloads against their own budget: small deflated parts land one budget at a time', async () => {
    const { send, endpoint } = await makeApp({ limits: { partSize: 128 * KiB } });
    // Runs of one byte deflate ~1000:1: each part body is a few hundred bytes that inflate to 128 KiB (a byte per block: no dups).
    const data = new Uint8Array(2048 * KiB);
    for (let b = 0; b < 32; b++) data.fill(b + 1, b * 64 * KiB, (b + 1) * 64 * KiB);
    const s = await start(send, k, data, { key: 'zeros.bin', chunking: { kind: 'fixed', block: 64 * KiB }, deflate: true });
    expect(s.partBodies.length).toBe(16);
    expect(Math.max(...s.partBodies.map((b) => b.length))).toBeLessThan(2 * KiB);
    expect((await sendPlan(send, s)).status).toBe(204);
    const landed = await Promise.all(s.partBodies.map((_, n) => sendPart(send, s, n)));
    expect(landed.map((r) => r.status)).toEqual(s.partBodies.map(() => 204));
    // 16 x 128 KiB were inflated; never more than the budget (one part size by default) at once.
    expect(endpoint.inflation.peak).toBe(128 * KiB);
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'zeros.bin')).bytes, data)).toBe('same');
  });

  it('should answer CHECKSUM_MISMATCH for a corrupted part and accept the resend', async () => {
    const { send, dir } = await makeApp();
    const data = randomBytes(300 * KiB, 23);
    const s = await start(send, k, data, { key: 'x.bin' });
    expect((await sendPlan(send, s)).status).toBe(204);
    const bad = s.partBodies[0].slice();
    bad[100] ^= 0x40; // a bit flipped in transit
    const before = snapshot(dir);
    await expectError(sendPart(send, s, 0, bad), 400, 'CHECKSUM_MISMATCH');
    expect(snapshot(dir)).toEqual(before);
    expect((await sendPart(send, s, 0)).status).toBe(204);
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'x.bin')).bytes, data)).toBe('same');
  });

  it('should answer INCOMPLETE for a commit before every part, naming what is missing', async () => {
    const { send, dir } = await makeApp({ limits: { partSize: 64 * KiB } });
    const s = await start(send, k, randomBytes(400 * KiB, 24), { key: 'i.bin' });
    const noPlan = await expectError(sendCommit(send, s), 409, 'INCOMPLETE');
    expect(noPlan).toContain('the plan');
    await sendPlan(send, s);
    await sendPart(send, s, 0);
    await sendPart(send, s, 2);
    const before = snapshot(dir);
    const msg = await expectError(sendCommit(send, s), 409, 'INCOMPLETE');
    expect(msg).toContain('parts 1, 3');
    expect(snapshot(dir)).toEqual(before);
    const head = await send('/v1/files/i.bin', { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('should answer ROOT_MISMATCH for a wrong root and keep the old version intact and readable', async () => {
    const { send } = await makeApp();
    const v1 = randomBytes(512 * KiB, 25);
    const { info } = await push(send, k, v1, { key: 'w.bin' });
    const v2 = concat(v1.subarray(0, 1000), randomBytes(10, 26), v1.subarray(1000));
    const s = await start(send, k, v2, { key: 'w.bin' });
    await sendAll(send, s);
    const message = await expectError(sendCommit(send, s, { root: '0'.repeat(64) }), 422, 'ROOT_MISMATCH');
    // It names the client's root, never the rebuilt one (a digest of stored bytes).
    expect(message.match(/[0-9a-f]{64}/g)).toEqual(['0'.repeat(64)]);
    expect(message).not.toContain(s.commit.root);
    const got = await download(send, 'w.bin');
    expect(got.res.headers.get('x-deltaflare-version')).toBe(info.version);
    expect(sameBytes(got.bytes, v1)).toBe('same');
    // The right root still commits (nothing was consumed by the failed check).
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'w.bin')).bytes, v2)).toBe('same');
  });

  it('should answer a retried commit with the same version', async () => {
    const { send } = await makeApp();
    const s = await start(send, k, randomBytes(100 * KiB, 27), { key: 'r.bin' });
    await sendAll(send, s);
    const a = await json<FileInfo>(await sendCommit(send, s));
    const b = await json<FileInfo>(await sendCommit(send, s));
    expect(b).toEqual(a);
  });

  it('should answer VERSION_CONFLICT when the key moved since the session began, changing nothing', async () => {
    const { send } = await makeApp();
    const v1 = randomBytes(200 * KiB, 28);
    await push(send, k, v1, { key: 'v.bin' });
    const s = await start(send, k, concat(v1, randomBytes(10, 29)), { key: 'v.bin' });
    await sendAll(send, s);
    const other = await push(send, k, randomBytes(50 * KiB, 30), { key: 'v.bin', basis: null });
    await expectError(sendCommit(send, s), 409, 'VERSION_CONFLICT');
    expect((await send('/v1/files/v.bin', { method: 'HEAD' })).headers.get('x-deltaflare-version')).toBe(other.info.version);
  });

  it('should expire sessions after their lifetime (410) and sweep them', async () => {
    let now = 1_000_000;
    const { send, store, settled } = await makeApp({ now: () => now, limits: { sessionTtlSeconds: 60 } });
    const s = await start(send, k, randomBytes(10 * KiB, 31), { key: 'e.bin' });
    now += 61_000;
    await expectError(sendPlan(send, s), 410, 'SESSION_EXPIRED');
    now += 60_000; // the next request sweeps (interval 60 s)
    await send('/v1/info');
    await settled();
    expect(await store.getSession(s.session.id)).toBeNull();
    await expectError(sendPlan(send, s), 404, 'NOT_FOUND');
  });

  it('should drop a session and its staging on DELETE', async () => {
    const { send, dir } = await makeApp();
    const before = snapshot(dir);
    const s = await start(send, k, randomBytes(10 * KiB, 32), { key: 'd.bin' });
    await sendAll(send, s);
    expect((await send(`/v1/sessions/${s.session.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(Object.keys(snapshot(dir)).filter((p) => !(p in before) && !p.endsWith('/'))).toEqual([]);
    await expectError(send(`/v1/sessions/${s.session.id}`), 404, 'NOT_FOUND');
  });
});
