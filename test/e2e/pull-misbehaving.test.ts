// A pull against a server that misbehaves (a real HTTP server on loopback
// between the client and a real endpoint, changing its answers): an endless
// body, a Range ignored, a manifest of more chunks than the pull takes or of
// digests shorter than asked. Each is refused with MALFORMED after reading at
// most what the request could legitimately take (counted as the bytes the
// server got out before the client hung up), not retried, and the local copy
// is left as it was.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, pull, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve } from '../../worker/node/serve.js';
import { randomBytes } from '../support/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-misbehaving-'));
const MiB = 1 << 20;
let pool: WorkerPool<ThreadApi>;
let endpoint: { url: string; close(): Promise<void> };
let proxy: Server;
let proxyUrl: string;
/** What the proxy does to the next requests. */
let mode: (req: IncomingMessage, res: ServerResponse) => Promise<boolean> = async () => false;
const seen = { requests: 0, sentBytes: 0 };

/** Writes `piece` until the client hangs up or `limit` bytes went out; counts them. */
async function endless(res: ServerResponse, piece: Uint8Array, limit = 1 << 30): Promise<void> {
  res.on('error', () => undefined);
  const closed = once(res, 'close');
  while (!res.destroyed && seen.sentBytes < limit) {
    seen.sentBytes += piece.length;
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), closed]);
  }
  res.end();
}

/** Forwards a request to the real endpoint, `headers` changed. */
async function forward(req: IncomingMessage, headers: Record<string, string | undefined> = {}): Promise<Response> {
  const h = new Headers();
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host') h.set(name, value);
  for (const [name, value] of Object.entries(headers)) value === undefined ? h.delete(name) : h.set(name, value);
  return fetch(endpoint.url + req.url, { method: req.method, headers: h });
}

beforeAll(async () => {
  pool = await createNodePool(2);
  endpoint = await serve({ dir: join(dir, 'store'), port: 0 });
  proxy = createServer(async (req, res) => {
    seen.requests++;
    if (await mode(req, res)) return;
    const answer = await forward(req);
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  await push(join(dir, 'v2'), { endpoint: endpoint.url, key: 'file.bin', pool }).catch(() => undefined);
});
afterAll(async () => {
  proxy?.closeAllConnections();
  proxy?.close();
  await endpoint?.close();
  pool?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

const v1 = randomBytes(4 * MiB, 1);
const v2 = randomBytes(4 * MiB, 2); // nothing in common: every chunk is fetched

/** Pulls file.bin through the proxy in `how`, expecting MALFORMED; the local copy is unchanged. */
async function refused(how: typeof mode, options: { maxChunks?: number } = {}): Promise<string> {
  const local = join(dir, 'local.bin');
  writeFileSync(local, v1);
  mode = how;
  seen.requests = 0;
  seen.sentBytes = 0;
  const error = await pull(local, { endpoint: proxyUrl, key: 'file.bin', pool, ...options }).then(
    () => null,
    (e: { code: string; message: string }) => e,
  );
  mode = async () => false;
  expect(error?.code).toBe('MALFORMED');
  expect(Buffer.from(readFileSync(local)).equals(Buffer.from(v1))).toBe(true);
  return error!.message;
}

describe('pull against a misbehaving server', () => {
  beforeAll(async () => {
    writeFileSync(join(dir, 'v2'), v2);
    await push(join(dir, 'v2'), { endpoint: endpoint.url, key: 'file.bin', pool });
  });

  it('should stop reading an endless manifest at the largest a manifest of maxChunks can be', async () => {
    const message = await refused(async (req, res) => {
      if (!req.url!.includes('/v1/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked, forever
      await endless(res, new Uint8Array(64 << 10));
      return true;
    });
    expect(message).toMatch(/over the \d+ expected/);
    expect(seen.requests).toBe(1); // not retried
    expect(seen.sentBytes).toBeLessThan(40 + (1 << 20) * 12 + 16 * MiB); // the bound, and what socket buffers hold
  });

  it('should refuse at once a manifest that says it is larger than the bound, and one of more chunks than maxChunks', async () => {
    await refused(async (req, res) => {
      if (!req.url!.includes('/v1/manifests/')) return false;
      res.writeHead(200, { 'content-length': String(64 * MiB) });
      await endless(res, new Uint8Array(64 << 10), 64 * MiB);
      return true;
    });
    expect(seen.sentBytes).toBeLessThan(16 * MiB);
    expect(await refused(async () => false, { maxChunks: 100 })).toMatch(/at most 100 chunks \(maxChunks\)/);
  });

  it('should refuse a manifest of digests shorter than asked (16.7M one-byte digests) before decoding it', async () => {
    const n = 16_700_000;
    const message = await refused(async (req, res) => {
      if (!req.url!.includes('/v1/manifests/')) return false;
      const head = new DataView(new ArrayBuffer(40));
      head.setUint32(0, 0x31534644, true); // "DFS1"
      head.setUint32(4, 1, true); // fixed
      head.setUint32(8, 64, true); // 64-byte blocks
      head.setBigUint64(24, BigInt(n * 64), true);
      head.setUint32(32, n, true);
      head.setUint32(36, 1, true); // one digest byte a chunk
      res.writeHead(200, { 'x-deltaflare-version': 'v-x', 'x-deltaflare-root': '00' });
      res.write(new Uint8Array(head.buffer));
      await endless(res, new Uint8Array(1 << 20), 12 * MiB);
      return true;
    });
    expect(message).toMatch(/digestBytes 1, not the 8 asked for/);
  });

  it('should refuse a whole-file 200 to a ranged GET (a proxy that ignores Range), reading at most the request', async () => {
    const message = await refused(async (req, res) => {
      if (!req.headers.range) return false;
      const answer = await forward(req, { range: undefined, 'x-deltaflare-encoding': undefined });
      res.writeHead(answer.status, Object.fromEntries(answer.headers));
      const body = new Uint8Array(await answer.arrayBuffer());
      seen.sentBytes += body.length;
      res.end(body);
      return true;
    });
    expect(message).toMatch(/answered 200, not 206|over the \d+ expected/);
  });

  it('should stop reading an endless 206 at what its ranges can take', async () => {
    await refused(async (req, res) => {
      if (!req.headers.range) return false;
      res.writeHead(206, { 'content-type': 'multipart/byteranges; boundary=x' });
      await endless(res, new Uint8Array(64 << 10));
      return true;
    });
    expect(seen.sentBytes).toBeLessThan(2 * MiB + 16 * MiB); // a 2 MiB request's bound, and socket buffers
  });
});
