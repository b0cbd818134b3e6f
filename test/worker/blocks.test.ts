// GET /v1/blocks/:key through the app (fs store): block digests checked
// against b3sum over the same blocks, and every bad query refused with a
// JSON error, the stored version untouched.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_RANGES } from '../../sdk/base/limits.js';
import { blockQuery, MAX_BLOCK_SPAN_BYTES } from '../../sdk/protocol/block-digests.js';
import { toHex } from '../../sdk/protocol/hex.js';
import { push } from './client.js';
import { kernels, makeApp, randomBytes } from './setup.js';

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
    expect((await send('/v1/files/q.bin')).status).toBe(200); // still there, still readable
  });

  it('should refuse spans of more than MAX_BLOCK_SPAN_BYTES in all', async () => {
    const { send } = await makeApp();
    const { info } = await push(send, kernels, randomBytes(5 << 20, 5), { key: 'big.bin' });
    const spans = [0, 1, 2].map(() => ({ offset: 0, length: 3 << 20 }));
    expect(3 * (3 << 20)).toBeGreaterThan(MAX_BLOCK_SPAN_BYTES);
    const res = await send(`/v1/blocks/big.bin?${blockQuery({ version: info.version, block: 4096, digestBytes: 8, spans })}`);
    expect(res.status).toBe(413);
  });
});
