// Hostile input through app.request: each answer is the protocol's error and
// the store folder is byte-for-byte unchanged (no session, staging or blob).
import { describe, expect, it } from 'vitest';
import { encodeSignatures } from '../../sdk/protocol/wire.js';
import { expectError, sendPart, sendPlan, start } from './client.js';
import { kernels as k, makeApp, randomBytes, snapshot } from './setup.js';

const session = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body) });
const cdc = { kind: 'cdc', min: 2048, avg: 8192, max: 65536, level: 1 };

describe('endpoint hostile input', () => {
  it('should refuse bad session requests without writing anything', async () => {
    const { send, dir } = await makeApp({ limits: { maxFileSize: 1 << 20 } });
    const before = snapshot(dir);
    const cases: Array<[unknown, number, string]> = [
      [{ key: '../etc/passwd', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'a/%2e%2e/b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: '.deltaflare/sessions/x', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: '/abs', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: cdc, basis: '../x' }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: -1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1.5, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: (1 << 20) + 1, chunking: cdc }, 413, 'TOO_LARGE'],
      [{ key: 'ok', size: 1, chunking: { kind: 'cdc', min: 1, avg: 2, max: 3, level: 1 } }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: { kind: 'fixed', block: 1 << 30 } }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: { kind: 'zip' } }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: cdc, strongBytes: 4 }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: cdc, inPlace: true }, 400, 'INVALID_ARGUMENT'],
      [{ key: 'ok', size: 1, chunking: cdc, basis: 'missing' }, 404, 'NOT_FOUND'],
      [[1, 2], 400, 'MALFORMED'],
    ];
    for (const [body, status, code] of cases) await expectError(send('/v1/sessions', session(body)), status, code);
    await expectError(send('/v1/sessions', { method: 'POST', body: '{"key":' }), 400, 'MALFORMED');
    await expectError(send('/v1/sessions', { method: 'POST', body: 'x'.repeat(100_000) }), 413, 'TOO_LARGE');
    expect(snapshot(dir)).toEqual(before);
  });

  it('should refuse traversal and metadata keys on the file routes', async () => {
    const { send, dir } = await makeApp();
    const before = snapshot(dir);
    for (const path of ['%2e%2e%2Fx', '..%2Fx', 'a/%252e%252e/x', '.deltaflare/keys', 'a//b']) {
      await expectError(send(`/v1/files/${path}`), 400, 'INVALID_ARGUMENT');
      await expectError(send(`/v1/files/${path}`, { method: 'DELETE' }), 400, 'INVALID_ARGUMENT');
    }
    await expectError(send('/v1/files?prefix=../'), 400, 'INVALID_ARGUMENT');
    await expectError(send('/v1/files/nothing'), 404, 'NOT_FOUND');
    expect(snapshot(dir)).toEqual(before);
  });

  it('should refuse malformed binary bodies, a wrong version byte and oversized bodies, leaving the session unchanged', async () => {
    const { send, dir } = await makeApp({ limits: { maxSignaturesPerBatch: 100, partSize: 64 * 1024, maxPlanOps: 10, maxPartOps: 4 } });
    const s = await start(send, k, randomBytes(300 * 1024, 40), { key: 'h.bin', batch: 10 });
    const id = s.session.id;
    const before = snapshot(dir);
    const match = (body: Uint8Array) => send(`/v1/sessions/${id}/match`, { method: 'POST', body });
    const good = encodeSignatures({ firstIndex: 0, crcs: s.chunks.crcs.subarray(0, 1), lengths: s.chunks.lengths.subarray(0, 1) });

    await expectError(match(new Uint8Array([1, 2, 3])), 400, 'MALFORMED');
    const v2 = good.slice();
    v2[2] = 2;
    await expectError(match(v2), 400, 'UNSUPPORTED_VERSION');
    const reserved = good.slice();
    reserved[6] = 1;
    await expectError(match(reserved), 400, 'MALFORMED');
    await expectError(match(good.subarray(0, good.length - 1)), 400, 'MALFORMED');
    await expectError(match(new Uint8Array(24 + 8 * 100 + 1)), 413, 'TOO_LARGE');
    // A batch overlapping recorded chunks with different values.
    const clash = encodeSignatures({ firstIndex: 5, crcs: new Uint32Array(10), lengths: new Uint32Array(10).fill(8192) });
    await expectError(match(clash), 409, 'PART_CONFLICT');

    const plan = (body: Uint8Array, headers?: Record<string, string>) => send(`/v1/sessions/${id}/plan`, { method: 'PUT', body, headers });
    await expectError(plan(s.planBody.subarray(0, 20)), 400, 'MALFORMED');
    await expectError(plan(good), 400, 'MALFORMED'); // a signatures message where a plan belongs
    await expectError(plan(new Uint8Array(24 + 24 * 10 + 1)), 413, 'TOO_LARGE');
    await expectError(plan(new Uint8Array(10), { 'Content-Length': '999999999' }), 413, 'TOO_LARGE');

    const part = (n: number | string, body: Uint8Array) => send(`/v1/sessions/${id}/parts/${n}`, { method: 'PUT', body });
    await expectError(part(0, new Uint8Array(24 + 12 * 4 + 64 * 1024 + 5)), 413, 'TOO_LARGE');
    await expectError(part(1, s.partBodies[0]), 400, 'MALFORMED'); // body says part 0
    await expectError(part('x', s.partBodies[0]), 400, 'MALFORMED');
    await expectError(part(0, s.partBodies[0].subarray(0, 40)), 400, 'MALFORMED');
    await expectError(send(`/v1/sessions/s_000000000000000000000000/plan`, { method: 'PUT', body: s.planBody }), 404, 'NOT_FOUND');
    await expectError(send(`/v1/sessions/../../x/plan`, { method: 'PUT', body: s.planBody }), 404, 'NOT_FOUND');
    await expectError(send(`/v1/sessions/${id}/commit`, { method: 'POST', body: '{"root":"zz","size":1,"parts":0,"baseVersion":null}' }), 400, 'INVALID_ARGUMENT');
    expect(snapshot(dir)).toEqual(before);

    // The session still works after all that.
    expect((await sendPlan(send, s)).status).toBe(204);
    for (let n = 0; n < s.partBodies.length; n++) expect((await sendPart(send, s, n)).status).toBe(204);
  });

  it('should refuse a plan that reads past the basis or has the wrong size, and parts off chunk boundaries', async () => {
    const { send, dir } = await makeApp();
    const s = await start(send, k, randomBytes(100 * 1024, 41), { key: 'b.bin' });
    const { encodePlan, encodePart } = await import('../../sdk/protocol/wire.js');
    const before = snapshot(dir);
    const put = (body: Uint8Array) => send(`/v1/sessions/${s.session.id}/plan`, { method: 'PUT', body });
    await expectError(put(encodePlan({ size: 100 * 1024, inPlace: false, copies: [{ oldOffset: 0, newOffset: 0, length: 10 }], dups: [] })), 400, 'INVALID_PLAN');
    await expectError(put(encodePlan({ size: 5, inPlace: false, copies: [], dups: [] })), 400, 'INVALID_PLAN');
    const offBoundary = encodePart({ part: 0, ops: [{ newOffset: 1, length: 4 }], literalBytes: 4, deflated: false, payload: new Uint8Array(4) });
    await expectError(sendPart(send, s, 0, offBoundary), 400, 'INVALID_PLAN');
    // Right boundaries, wrong bytes: the chunk's CRC is not its signature's.
    const len = s.chunks.lengths[0];
    const wrong = encodePart({ part: 0, ops: [{ newOffset: 0, length: len }], literalBytes: len, deflated: false, payload: new Uint8Array(len) });
    await expectError(sendPart(send, s, 0, wrong), 400, 'INVALID_PLAN');
    expect(snapshot(dir)).toEqual(before);
  });
});
