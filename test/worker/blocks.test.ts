// GET /v1/blocks/:key through the app (fs store): block digests checked
// against b3sum over the same blocks, and every bad query refused with a
// JSON error, the stored version untouched.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_RANGES } from '../../core/base/limits.js';
import { blockQuery, MAX_BLOCK_SPAN_BYTES } from '../../core/protocol/block-digests.js';
import { toHex } from '../../core/protocol/hex.js';
import { createApp, Endpoint } from '../../worker/http/app.js';
import { errorResponse } from '../../worker/errors.js';
import { ReadBudget } from '../../worker/read-budget.js';
import { FsStore } from '../../worker/store/fs/store.js';
import { push, type Send, typed } from './client.js';
import { kernels, makeApp, randomBytes, tempDir } from './setup.js';

/** b3sum's digests of `bytes` cut into blocks of `block` bytes (the last shorter), each its first `n` bytes in hex. */
function b3sumBlocks(bytes: Uint8Array, block: number, n: number): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'df-blocks-'));
  const files: string[] = [];
  for (let o = 0, i = 0; o < bytes.length; o += block, i++) {
    files.push(join(dir, String(i)));
    writeFileSync(files[i], bytes.subarray(o, o + block));
  }
  return execFileSync('b3sum', ['--no-names', ...files], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.slice(0, 2 * n));
}

describe('block digests', () => {
  it("should answer each span's block digests, the last block of a span shorter, as b3sum computes them", async () => {
    const data = randomBytes(200_000, 3);
    const { send } = await makeApp();
    const { info } = await push(send, kernels, data, { key: 'b.bin' });
    const spans = [
      { offset: 150_000, length: 5000 }, // 4 blocks of 1 KiB and one of 904 bytes
      { offset: 7, length: 1024 },
      { offset: 199_999, length: 1 },
    ];
    const res = await send(`/v1/blocks/b.bin?${blockQuery({ version: info.version, block: 1024, digestBytes: 12, spans })}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-deltaflare-version')).toBe(info.version);
    const body = new Uint8Array(await res.arrayBuffer());
    const want = spans.flatMap((s) => b3sumBlocks(data.subarray(s.offset, s.offset + s.length), 1024, 12));
    expect(want).toHaveLength(7);
    expect(Array.from({ length: 7 }, (_, i) => toHex(body.subarray(12 * i, 12 * i + 12)))).toEqual(want);
  });

  it('should refuse a bad query with a JSON error naming it, and another version with 409', async () => {
    const { send } = await makeApp();
    const { info } = await push(send, kernels, randomBytes(100_000, 4), { key: 'q.bin' });
    const ok = { version: info.version, block: 1024, digestBytes: 8, spans: [{ offset: 0, length: 4096 }] };
    const ask = async (query: string) => {
      const res = await send(`/v1/blocks/q.bin?${query}`);
      return { status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error };
    };
    expect(await ask(blockQuery({ ...ok, version: 'v-other' }))).toMatchObject({ status: 409, code: 'VERSION_CONFLICT' });
    expect(await ask(blockQuery({ ...ok, block: 1000 }))).toMatchObject({ status: 400, message: expect.stringMatching(/power of two/) });
    expect(await ask(blockQuery({ ...ok, block: 128 }))).toMatchObject({ status: 400 });
    expect(await ask(blockQuery({ ...ok, digestBytes: 3 }))).toMatchObject({ status: 400, message: expect.stringMatching(/digest length/) });
    expect(await ask(blockQuery({ ...ok, spans: [{ offset: 99_000, length: 1001 }] }))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/inside/),
    });
    expect(await ask(blockQuery({ ...ok, spans: [{ offset: 0, length: 0 }] }))).toMatchObject({ status: 400 });
    expect(await ask(`version=${info.version}&block=1024&digest=8&spans=1:2:3`)).toMatchObject({ status: 400 });
    expect(await ask(`version=${info.version}&block=1024&digest=8`)).toMatchObject({ status: 400, message: expect.stringMatching(/spans is required/) });
    const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => ({ offset: i, length: 1 }));
    expect(await ask(blockQuery({ ...ok, spans: many }))).toMatchObject({ status: 413, code: 'TOO_LARGE' });
    expect((await send(`/v1/blocks/none.bin?${blockQuery(ok)}`)).status).toBe(404);
    const still = await send('/v1/files/q.bin');
    expect(still.status).toBe(200); // still there, still readable
    await still.arrayBuffer();
  });

  it('should refuse spans of more than MAX_BLOCK_SPAN_BYTES in all', async () => {
    const { send } = await makeApp();
    const { info } = await push(send, kernels, randomBytes(5 << 20, 5), { key: 'big.bin' });
    const spans = [0, 1, 2].map(() => ({ offset: 0, length: 3 << 20 }));
    expect(3 * (3 << 20)).toBeGreaterThan(MAX_BLOCK_SPAN_BYTES);
    const res = await send(`/v1/blocks/big.bin?${blockQuery({ version: info.version, block: 4096, digestBytes: 8, spans })}`);
    expect(res.status).toBe(413);
  });

  it('should hold the bytes of concurrent requests within the read budget, and refuse one that waits too long with 503 and Retry-After', async () => {
    const MiB = 1 << 20;
    const store = await FsStore.open(tempDir());
    const options = { store, kernels, readBudgetBytes: 4 * MiB, log: () => undefined };
    const endpoint = new Endpoint(options);
    const app = createApp(options, endpoint);
    const send: Send = async (path, init) => app.request(path, typed(init));
    const { info } = await push(send, kernels, randomBytes(8 * MiB, 6), { key: 'busy.bin' });
    const spans = [0, 1, 2].map((i) => ({ offset: i * MiB, length: MiB })); // 3 MiB a request
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => send(`/v1/blocks/busy.bin?${blockQuery({ version: info.version, block: 4096, digestBytes: 8, spans })}`)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(endpoint.reads.peak).toBe(3 * MiB); // one request at a time: two do not fit in 4 MiB

    const budget = new ReadBudget(MiB);
    let release!: () => void;
    const holding = budget.run(MiB, 'a first read', () => new Promise<void>((r) => (release = r)));
    const refused = await budget.run(MiB, 'a second read', async () => 'ran', 0).catch((e: unknown) => errorResponse(e));
    expect(refused).toBeInstanceOf(Response);
    const res = refused as Response;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BUSY');
    release();
    await holding;
  });
});
