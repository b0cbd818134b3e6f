// Flows against a real server on loopback (worker/node/serve.ts over the fs store):
// two versions, racing sessions on one key, in-place rebuilds with cyclic
// moves, and bodies above the caps sent over real HTTP.
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileInfo } from '../../core/protocol/messages.js';
import { serve, type ServeHandle } from '../../worker/node/serve.js';
import { download, expectError, json, overHttp, push, sendAll, sendCommit, start, type Send } from './client.js';
import { concat, kernels as k, randomBytes, sameBytes, tempDir } from './setup.js';

const KiB = 1024;
let server: ServeHandle;
let send: Send;

beforeAll(async () => {
  server = await serve({ dir: tempDir(), port: 0, kernels: k, limits: { partSize: 256 * KiB, maxSignaturesPerBatch: 4096 } });
  send = overHttp(server.url);
});
afterAll(() => server.close());

/** A raw HTTP/1.1 GET with the Host header we choose (fetch sets its own). */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

describe('endpoint over HTTP', () => {
  it('should answer, open on loopback, only requests that name a loopback host (no DNS rebinding), on any port', async () => {
    const { port } = new URL(server.url);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost:8080', `[::1]:${port}`, 'LOCALHOST']) {
      expect((await getWithHost(server.url, '/v1/info', host)).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`]) {
      const r = await getWithHost(server.url, '/v1/info', host);
      expect(r.status, `Host: ${host}`).toBe(403);
      expect(JSON.parse(r.body).error.code).toBe('FORBIDDEN');
    }
    // A JSON body sent as text/plain (what a page on another site may POST unasked) is refused.
    const plain = await fetch(`${server.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ key: 'x.bin', size: 1 }),
    });
    expect(plain.status).toBe(415);
  });

  it('should listen on loopback and push two versions byte-identically', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const v1 = randomBytes(3 << 20, 50);
    await push(send, k, v1, { key: 'dir/sub/file.bin' });
    const v2 = concat(v1.subarray(0, 1 << 20), randomBytes(4000, 51), v1.subarray((1 << 20) + 2000));
    const { sync } = await push(send, k, v2, { key: 'dir/sub/file.bin', deflate: true });
    expect(sync.literalBytes).toBeLessThan(60_000);
    expect(sameBytes((await download(send, 'dir/sub/file.bin')).bytes, v2)).toBe('same');
    const r = await download(send, 'dir/sub/file.bin', { Range: `bytes=${1 << 20}-${(1 << 20) + 3999}` });
    expect(r.status).toBe(206);
    expect(sameBytes(r.bytes, v2.subarray(1 << 20, (1 << 20) + 4000))).toBe('same');
  });

  it('should let exactly one of two racing sessions commit, the other 409, with no torn file', async () => {
    const v1 = randomBytes(1 << 20, 52);
    await push(send, k, v1, { key: 'race.bin' });
    const a = concat(randomBytes(5000, 53), v1);
    const b = concat(v1, randomBytes(7000, 54));
    for (let round = 0; round < 3; round++) {
      const sa = await start(send, k, round % 2 ? a : b, { key: 'race.bin' });
      const sb = await start(send, k, round % 2 ? b : a, { key: 'race.bin' });
      await Promise.all([sendAll(send, sa), sendAll(send, sb)]);
      const [ra, rb] = await Promise.all([sendCommit(send, sa), sendCommit(send, sb)]);
      const statuses = [ra.status, rb.status].sort();
      expect(statuses).toEqual([200, 409]);
      const winner = ra.status === 200 ? sa : sb;
      const loser = ra.status === 200 ? rb : ra;
      expect(((await loser.json()) as { error: { code: string } }).error.code).toBe('VERSION_CONFLICT');
      expect(sameBytes((await download(send, 'race.bin')).bytes, winner.data)).toBe('same');
      // The next round starts from whichever version won.
      await push(send, k, v1, { key: 'race.bin' });
    }
  });

  it('should rebuild in place with cyclic moves, growth and shrinking', async () => {
    const block = 64 * KiB;
    const spec = { kind: 'fixed', block: 4096 } as const;
    const blocks = Array.from({ length: 8 }, (_, i) => randomBytes(block, 60 + i));
    const [A, B, C, D, E, F, G, H] = blocks;
    await push(send, k, concat(A, B, C, D, E, F, G, H), { key: 'ip.img', chunking: spec });
    // A swap (A B -> B A), a 3-cycle (C D E -> E C D), new bytes, and growth.
    const v2 = concat(B, A, E, C, D, randomBytes(4096, 70), F, G, H, H);
    const s2 = await start(send, k, v2, { key: 'ip.img', chunking: spec, inPlace: true });
    expect(s2.plan.converted).toBeGreaterThanOrEqual(2); // each cycle loses one copy
    expect(s2.literalBytes).toBeLessThan(v2.length / 2);
    await sendAll(send, s2);
    await json<FileInfo>(await sendCommit(send, s2));
    expect(sameBytes((await download(send, 'ip.img')).bytes, v2)).toBe('same');
    // Shrink: drop blocks, rotate what remains.
    const v3 = concat(H, F, B, A);
    const s3 = await start(send, k, v3, { key: 'ip.img', chunking: spec, inPlace: true });
    await sendAll(send, s3);
    await json<FileInfo>(await sendCommit(send, s3));
    expect(sameBytes((await download(send, 'ip.img')).bytes, v3)).toBe('same');
  });

  it('should serve a static folder outside /v1 when given one', async () => {
    const root = tempDir();
    writeFileSync(join(root, 'index.html'), '<p>deltaflare</p>');
    const other = await serve({ dir: tempDir(), port: 0, kernels: k, static: root });
    try {
      const page = await fetch(`${other.url}/index.html`);
      expect([page.status, await page.text()]).toEqual([200, '<p>deltaflare</p>']);
      expect((await fetch(`${other.url}/v1/info`)).status).toBe(200);
      await expectError(fetch(`${other.url}/missing.html`), 404, 'NOT_FOUND');
    } finally {
      await other.close();
    }
  });

  it('should answer 413 for bodies above the caps and keep serving', async () => {
    const s = await start(send, k, randomBytes(100 * KiB, 80), { key: 'big.bin' });
    const huge = new Uint8Array(24 + 12 * 16384 + 256 * KiB + 4 + 1);
    await expectError(send(`/v1/sessions/${s.session.id}/parts/0`, { method: 'PUT', body: huge }), 413, 'TOO_LARGE');
    // A chunked body (no Content-Length) is cut off as it streams.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(64 * KiB));
        c.close();
      },
    });
    const chunked = await fetch(`${server.url}/v1/sessions/${s.session.id}/parts/0`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    await expectError(chunked, 413, 'TOO_LARGE');
    await sendAll(send, s);
    await json<FileInfo>(await sendCommit(send, s));
    expect((await send('/v1/info')).status).toBe(200);
  });
});
