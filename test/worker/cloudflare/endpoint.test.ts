// The endpoint in workerd: the Worker entry, its routing to one Durable
// Object per key and the R2 store (versions as recipes over pieces), driven
// through SELF.fetch by the protocol test client (test/worker/client.ts); a
// KeyObject's hooks as a subclass would give them.
import { env, SELF } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../../core/kernels/api.js';
import { init } from '../../../core/kernels/workerd.js';
import type { FileList, SessionStatus } from '../../../core/protocol/messages.js';
import { byteRangeParts, DEFLATE_RAW, RANGE_ENCODING_HEADER, rangeHeader } from '../../../core/protocol/byteranges.js';
import { bodyCaps, WORKERS_PART_SIZE } from '../../../core/base/limits.js';
import { blockQuery, digestBlocks } from '../../../core/protocol/block-digests.js';
import { workersLimits } from '../../../worker/cloudflare/limits.js';
import { partSizeFor } from '../../../worker/store/r2/multipart.js';
import { download, expectError, json, push, type Send, sendAll, sendCommit, start, typed } from '../client.js';
import { emptyBucket, keyObjectStub } from './in-object.js';
import { runInDurableObject } from 'cloudflare:test';
import type { CommitEvent, Hooks } from '../../../worker/hooks.js';
import type { KeyObject } from '../../../worker/cloudflare/key-object.js';
import { concat, randomBytes } from '../../support/bytes.js';

let k: Kernels;
beforeAll(async () => {
  k = await init();
});
afterEach(emptyBucket);

const send: Send = (path, init) => SELF.fetch(`http://deltaflare.test${path}`, typed(init));

let seed = 7;
/** A fresh pseudo-random stream per call. */
const random = (n: number): Uint8Array => randomBytes(n, seed++);
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
async function objects(prefix: string): Promise<string[]> {
  return (await env.BUCKET.list({ prefix })).objects.map((o) => o.key);
}

describe('endpoint on Workers', () => {
  it('should push a file, then an edited version sending only the changes, and serve each byte for byte', async () => {
    const v1 = random(12 << 20);
    const first = await push(send, k, v1, { key: 'disk/a.img' });
    expect(first.info.size).toBe(v1.length);
    expect(same((await download(send, 'disk/a.img')).bytes, v1)).toBe(true);

    const v2 = concat(v1.subarray(0, 3 << 20), random(1 << 20), v1.subarray(3 << 20));
    for (let i = 0; i < 6; i++) v2.set(random(3000), 1_000_000 + i * 2_000_000);
    const second = await push(send, k, v2, { key: 'disk/a.img' });
    expect(second.sync.literalBytes).toBeLessThan(v2.length / 10);
    const got = await download(send, 'disk/a.img');
    expect(got.res.headers.get('x-deltaflare-version')).toBe(second.info.version);
    expect(same(got.bytes, v2)).toBe(true);
    const range = await download(send, 'disk/a.img', { range: 'bytes=5242000-5243000' });
    expect(range.status).toBe(206);
    expect(same(range.bytes, v2.subarray(5_242_000, 5_243_001))).toBe(true);
    // A version is a recipe over pieces: the second reads the first's pieces where nothing changed and adds only
    // pieces of literal bytes (the 1 MiB insert and six 3,000-byte edits); the old recipe waits out its grace period.
    expect(await objects('d/')).toEqual([]);
    expect((await objects('r/')).length).toBe(2);
    const pieces = await Promise.all((await objects('p/')).map((name) => env.BUCKET.head(name)));
    const firstPush = pieces.filter((o) => o!.key.startsWith(`p/${first.info.version.slice(2)}/`));
    expect(firstPush.reduce((n, o) => n + o!.size, 0)).toBe(v1.length);
    expect(pieces.reduce((n, o) => n + o!.size, 0) - v1.length).toBe(second.sync.literalBytes);
  });

  it("should run the key object's hooks (as a subclass's hooks() gives them): onCommit with the version and metadata, onSessionCreate's refusal", async () => {
    const commits: CommitEvent[] = [];
    await runInDurableObject(keyObjectStub(env.KEYS.idFromName('hooked.bin')), (o: KeyObject) => {
      (o as unknown as { hooks(): Hooks }).hooks = () => ({
        onCommit: (c) => void commits.push(c),
        onSessionCreate: ({ size }) => (size > 1000 ? { status: 413, message: 'over 1000 bytes here' } : undefined),
      });
    });
    const { info } = await push(send, k, random(500), { key: 'hooked.bin', metadata: { job: '9' } });
    expect(commits).toEqual([{ key: 'hooked.bin', version: info.version, size: 500, root: info.root, metadata: { job: '9' } }]);
    const open = send('/v1/sessions', { method: 'POST', body: JSON.stringify({ key: 'hooked.bin', size: 5000, chunking: { kind: 'fixed', block: 4096 } }) });
    expect(await expectError(open, 413, 'FORBIDDEN')).toBe('over 1000 bytes here');
  });

  it('should keep the old version readable until the commit', async () => {
    const v1 = random(6 << 20);
    await push(send, k, v1, { key: 'keep.bin' });
    const s = await start(send, k, concat(random(100_000), v1), { key: 'keep.bin' });
    await sendAll(send, s);
    expect(same((await download(send, 'keep.bin')).bytes, v1)).toBe(true);
    expect((await sendCommit(send, s)).status).toBe(200);
    expect((await download(send, 'keep.bin')).bytes.length).toBe(v1.length + 100_000);
  });

  it("should route session ids to their key's object and answer unknown ones with 404", async () => {
    const s = await start(send, k, random(10_000), { key: 'route.bin' });
    expect(s.session.id).toMatch(/^s_[0-9a-f]{24}-[0-9a-f]{64}$/);
    const status = await json<SessionStatus>(await send(`/v1/sessions/${s.session.id}`));
    expect(status.id).toBe(s.session.id);
    await expectError(send('/v1/sessions/s_000000000000000000000000'), 404, 'NOT_FOUND');
    await expectError(send(`/v1/sessions/${s.session.id.slice(0, 27)}${'0'.repeat(64)}`), 404, 'NOT_FOUND');
    await expectError(send('/v1/sessions', { method: 'POST', body: '{"key": 5}' }), 400, 'INVALID_ARGUMENT');
    await expectError(send('/v1/sessions', { method: 'POST', body: '{"key": "../x", "size": 1}' }), 400, 'INVALID_ARGUMENT');
  });

  it("should list keys across objects and delete through the key's object", async () => {
    for (const key of ['l/b', 'l/a', 'm']) await push(send, k, random(1000), { key });
    const list = await json<FileList>(await send('/v1/files?prefix=l/'));
    expect(list.files.map((f) => f.key)).toEqual(['l/a', 'l/b']);
    expect((await send('/v1/files/l/a', { method: 'DELETE' })).status).toBe(204);
    await expectError(send('/v1/files/l/a'), 404, 'NOT_FOUND');
    expect((await json<FileList>(await send('/v1/files?prefix=l/'))).files.map((f) => f.key)).toEqual(['l/b']);
  });

  it('should delete a key with escapes in its path through the object of the key the app decodes', async () => {
    // The Worker picks the object by the key it decodes, the object's app decodes it again: both must agree.
    for (const key of ['e/a b.bin', 'e/100%.bin', 'e/é.bin']) await push(send, k, random(1000), { key });
    for (const path of ['e/a%20b.bin', 'e/100%25.bin', 'e/%C3%A9.bin']) expect((await send(`/v1/files/${path}`, { method: 'DELETE' })).status, path).toBe(204);
    expect((await json<FileList>(await send('/v1/files?prefix=e/'))).files).toEqual([]);
    // Each delete ran in its key's own object: that object released the version it held (an object picked by
    // the raw path would have deleted the head and left the key's object holding it, its pieces never collected).
    for (const key of ['e/a b.bin', 'e/100%.bin', 'e/é.bin']) {
      const released = await runInDurableObject(keyObjectStub(env.KEYS.idFromName(key)), (o: KeyObject) => {
        const sql = (o as unknown as { ctx: DurableObjectState }).ctx.storage.sql;
        return sql.exec<{ n: number }>("SELECT count(*) AS n FROM holders WHERE holder LIKE 'r/%' AND until IS NOT NULL").one().n;
      });
      expect(released, key).toBe(1);
    }
  });

  it('should advertise a part size that keeps every body under the 100 MB cap and refuse larger parts', async () => {
    const info = await json<{ limits: { partSize: number } }>(await send('/v1/info'));
    expect(info.limits.partSize).toBe(WORKERS_PART_SIZE);
    for (const n of Object.values(bodyCaps(workersLimits()))) expect(n).toBeLessThan(100_000_000);
    const s = await start(send, k, random(100), { key: 'cap.bin' });
    const big = new Uint8Array(WORKERS_PART_SIZE + 12 * 16384 + 29);
    await expectError(send(`/v1/sessions/${s.session.id}/parts/0`, { method: 'PUT', body: big }), 413, 'TOO_LARGE');
  });

  it('should deflate ranged answers of a compressible version when asked, and send random bytes as they are', async () => {
    const text = new TextEncoder().encode(Array.from({ length: 40_000 }, (_, i) => `line ${i % 977} of a log, ${(i * 31) % 101}\n`).join(''));
    await push(send, k, text, { key: 'log.txt' });
    await push(send, k, random(300_000), { key: 'noise.bin' });
    const spans = [
      { offset: 10, length: 90_000 },
      { offset: 200_000, length: 40_000 },
    ];
    const ask = (key: string) => send(`/v1/files/${key}`, { headers: { range: rangeHeader(spans), [RANGE_ENCODING_HEADER]: DEFLATE_RAW } });
    const res = await ask('log.txt');
    expect(res.status).toBe(206);
    expect(res.headers.get(RANGE_ENCODING_HEADER)).toBe(DEFLATE_RAW);
    const wire = new Uint8Array(await res.arrayBuffer());
    const body = new Uint8Array(await new Response(new Blob([wire]).stream().pipeThrough(new DecompressionStream('deflate-raw'))).arrayBuffer());
    expect(wire.length).toBeLessThan(body.length / 3);
    const parts = byteRangeParts(res.headers.get('content-type'), null, body);
    expect(parts.map((p) => [p.offset, p.bytes.length])).toEqual(spans.map((sp) => [sp.offset, sp.length]));
    for (const p of parts) expect(same(p.bytes, text.subarray(p.offset, p.offset + p.bytes.length))).toBe(true);
    const plain = await ask('noise.bin');
    expect(plain.headers.get(RANGE_ENCODING_HEADER)).toBeNull();
    expect(Number(plain.headers.get('content-length'))).toBe((await plain.arrayBuffer()).byteLength);
  });

  it('should answer block digests of spans of the current version from R2, and 409 for another version', async () => {
    const data = random(12 << 20); // three multipart parts: a span across the first boundary reads from two
    const { info } = await push(send, k, data, { key: 'blocks.bin' });
    const spans = [
      { offset: (5 << 20) - 3000, length: 6000 },
      { offset: 100, length: 2048 },
    ];
    const res = await send(`/v1/blocks/blocks.bin?${blockQuery({ version: info.version, block: 2048, digestBytes: 8, spans })}`);
    expect(res.status).toBe(200);
    const body = new Uint8Array(await res.arrayBuffer());
    const want = new Uint8Array(body.length);
    let at = 0;
    for (const s of spans) at = digestBlocks(k, data.subarray(s.offset, s.offset + s.length), 2048, 8, want, at);
    expect(at).toBe(4 * 8); // 3 blocks (the last of 1904 bytes), then 1
    expect(same(body, want)).toBe(true);
    const other = await send(`/v1/blocks/blocks.bin?${blockQuery({ version: 'v-other', block: 2048, digestBytes: 8, spans })}`);
    await expectError(other, 409, 'VERSION_CONFLICT');
  });

  it('should pick equal multipart parts of at least 5 MiB and at most 10,000 of them', () => {
    expect(partSizeFor(64 << 20)).toBe(5 << 20);
    expect(partSizeFor(100 * 1024 ** 3)).toBe(11 << 20);
    for (const size of [1, 5 << 20, 50_000 << 20, 64 * 1024 ** 3]) expect(Math.ceil(size / partSizeFor(size))).toBeLessThanOrEqual(10_000);
  });
});
