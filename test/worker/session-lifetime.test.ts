// Session lifetime and session state across restarts: the absolute cap
// (limits.maxSessionLifetimeSeconds) whatever the activity, sessions of an
// earlier boot (the fs store writes their state without fsync), and parts
// recorded by their blobs alone (the record is not rewritten per part).
import { resolveLimits } from '../../core/base/limits.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileInfo, SessionStatus } from '../../core/protocol/messages.js';
import { download, expectError, json, sendCommit, sendPart, sendPlan, start } from './client.js';
import { kernels as k, makeApp, randomBytes, sameBytes, tempDir } from './setup.js';

const KiB = 1024;
const stagingFiles = (dir: string) => readdirSync(join(dir, '.deltaflare', 'staging'));

describe('session lifetime', () => {
  it('should end a session at created + maxSessionLifetimeSeconds however active, name the limit, and sweep it with its staging', async () => {
    let now = 5_000_000;
    const t0 = now;
    const { send, store, dir, settled } = await makeApp({ now: () => now, limits: { sessionTtlSeconds: 120, maxSessionLifetimeSeconds: 300 } });
    const s = await start(send, k, randomBytes(100 * KiB, 40), { key: 'life.bin' });
    expect(s.session.expiresAt).toBe(new Date(t0 + 120_000).toISOString());
    now += 100_000;
    expect((await sendPlan(send, s)).status).toBe(204); // a request: the idle TTL starts again
    now += 100_000;
    expect((await sendPlan(send, s)).status).toBe(204);
    const status = await json<SessionStatus>(await send(`/v1/sessions/${s.session.id}`));
    expect(status.expiresAt).toBe(new Date(t0 + 300_000).toISOString()); // capped: not now + 120 s
    now = t0 + 300_000;
    const msg = await expectError(sendPart(send, s, 0), 410, 'SESSION_EXPIRED');
    expect(msg).toContain('maxSessionLifetimeSeconds 300');
    expect(stagingFiles(dir)).toHaveLength(1);
    now += 60_000; // the next request sweeps (interval 60 s)
    await send('/v1/info');
    await settled();
    expect(await store.getSession(s.session.id)).toBeNull();
    expect(stagingFiles(dir)).toEqual([]);
  });

  it('should cap the first expiry when the lifetime is shorter than the TTL', async () => {
    const now = 7_000_000;
    const { send } = await makeApp({ now: () => now, limits: { sessionTtlSeconds: 3600, maxSessionLifetimeSeconds: 30 } });
    const s = await start(send, k, randomBytes(10 * KiB, 41), { key: 'short.bin' });
    expect(s.session.expiresAt).toBe(new Date(now + 30_000).toISOString());
    expect((await json<{ limits: { maxSessionLifetimeSeconds: number } }>(await send('/v1/info'))).limits.maxSessionLifetimeSeconds).toBe(30);
  });

  it('should end sessions recorded under a larger limit once a restart lowers it', async () => {
    let now = 9_000_000;
    const dir = tempDir();
    const before = await makeApp({ dir, now: () => now });
    const s = await start(before.send, k, randomBytes(10 * KiB, 42), { key: 'lower.bin' });
    now += 400_000;
    const after = await makeApp({ dir, now: () => now, limits: { maxSessionLifetimeSeconds: 300 } });
    expect(await expectError(sendPlan(after.send, s), 410, 'SESSION_EXPIRED')).toContain('maxSessionLifetimeSeconds 300');
  });

  it('should refuse a lifetime outside 1..365 days, naming it', () => {
    expect(() => resolveLimits({ maxSessionLifetimeSeconds: 0 })).toThrow(/maxSessionLifetimeSeconds/);
  });
});

describe('session state across restarts', () => {
  it('should answer SESSION_EXPIRED (machine restarted) for a session of an earlier boot and sweep it', async () => {
    const dir = tempDir();
    const before = await makeApp({ dir, bootId: 'boot-1' });
    const s = await start(before.send, k, randomBytes(200 * KiB, 43), { key: 'boot.bin' });
    expect((await sendPlan(before.send, s)).status).toBe(204);
    expect((await sendPart(before.send, s, 0)).status).toBe(204);
    // The same boot (a killed process restarted): the session goes on.
    const restarted = await makeApp({ dir, bootId: 'boot-1' });
    expect((await json<SessionStatus>(await restarted.send(`/v1/sessions/${s.session.id}`))).parts).toEqual([0]);
    // Another boot: its unsynced state may be gone, so it is over.
    const rebooted = await makeApp({ dir, bootId: 'boot-2' });
    expect(await expectError(sendPart(rebooted.send, s, 1), 410, 'SESSION_EXPIRED')).toMatch(/machine restarted/);
    expect(await expectError(rebooted.send(`/v1/sessions/${s.session.id}`), 410, 'SESSION_EXPIRED')).toMatch(/start a new one/);
    await rebooted.send('/v1/info'); // the first request sweeps
    await rebooted.settled();
    await expectError(rebooted.send(`/v1/sessions/${s.session.id}`), 404, 'NOT_FOUND');
    expect(stagingFiles(dir)).toEqual([]);
    expect(readdirSync(join(dir, '.deltaflare', 'sessions'))).toEqual([]);
  });

  it('should record parts by their blobs alone: the record is not rewritten per part, and status lists them for resume', async () => {
    const now = 11_000_000;
    const { send, dir } = await makeApp({ now: () => now, limits: { partSize: 64 * KiB } });
    const data = randomBytes(512 * KiB, 44);
    const s = await start(send, k, data, { key: 'rec.bin' });
    expect(s.partBodies.length).toBeGreaterThan(4);
    expect((await sendPlan(send, s)).status).toBe(204);
    const recordPath = join(dir, '.deltaflare', 'sessions', `${s.session.id}.json`);
    const record = readFileSync(recordPath);
    for (const n of [3, 0, 1]) expect((await sendPart(send, s, n)).status).toBe(204);
    expect(readFileSync(recordPath).equals(record)).toBe(true);
    expect((await json<SessionStatus>(await send(`/v1/sessions/${s.session.id}`))).parts).toEqual([0, 1, 3]);
    await expectError(sendCommit(send, s), 409, 'INCOMPLETE');
    for (let n = 0; n < s.partBodies.length; n++) expect((await sendPart(send, s, n)).status).toBe(204); // resends of landed parts too
    await json<FileInfo>(await sendCommit(send, s));
    expect(sameBytes((await download(send, 'rec.bin')).bytes, data)).toBe('same');
  });
});
