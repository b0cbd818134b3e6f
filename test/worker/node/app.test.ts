// deltaflare/server's createApp embedded in a plain Node http server (not
// `serve`): it has serve's protections by default. An open endpoint answers
// only loopback names (and allowedHosts); each client is its socket address
// (a spoofed CF-Connecting-IP gets no fresh quota; X-Forwarded-For counts
// only from trustedProxies); a session the disk cannot hold is 507.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp, FsStore, type NodeAppOptions } from '../../../worker/node/index.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-node-app-'));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** createApp over a fresh FsStore, served by Node's http on loopback. */
async function embedded(options: Omit<NodeAppOptions, 'store'> = {}): Promise<number> {
  const app = createApp({ store: await FsStore.open(join(dir, `store-${n++}`)), ...options });
  const server = createServer(getRequestListener(app.fetch));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

/** A request from `localAddress` with the given headers; answers the status. */
function ask(port: number, path: string, o: { from?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        localAddress: o.from ?? '127.0.0.1',
        headers: { 'content-type': 'application/json', ...o.headers },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
const session = (key: string, size = 1000) => ({ key, size, chunking: { kind: 'fixed', block: 4096 } });

describe("createApp's protections in a plain Node server", () => {
  it('should answer an open endpoint only under loopback names and the allowedHosts', async () => {
    const port = await embedded({ allowedHosts: ['files.example'] });
    expect(await ask(port, '/v1/info')).toBe(200); // Host: 127.0.0.1:port
    expect(await ask(port, '/v1/info', { headers: { host: `localhost:${port}` } })).toBe(200);
    expect(await ask(port, '/v1/info', { headers: { host: 'files.example' } })).toBe(200);
    expect(await ask(port, '/v1/info', { headers: { host: 'attacker.example' } })).toBe(403);
    const closed = await embedded({ access: { token: 'the-token' } }); // with a token, any name
    expect(await ask(closed, '/v1/info', { headers: { host: 'attacker.example' } })).toBe(200);
  });

  it("should count each client's sessions by its socket address, not by a header it can set", async () => {
    const port = await embedded({ maxSessionsPerClient: 2 });
    for (const i of [1, 2]) expect(await ask(port, '/v1/sessions', { from: '127.0.0.2', body: session(`a${i}`) })).toBe(201);
    expect(await ask(port, '/v1/sessions', { from: '127.0.0.2', body: session('a3') })).toBe(429);
    expect(await ask(port, '/v1/sessions', { from: '127.0.0.2', body: session('a4'), headers: { 'cf-connecting-ip': '203.0.113.9' } })).toBe(429);
    expect(await ask(port, '/v1/sessions', { from: '127.0.0.3', body: session('b1') })).toBe(201); // another address: its own quota
  });

  it('should take X-Forwarded-For only from trusted proxies', async () => {
    const port = await embedded({ maxSessionsPerClient: 1, trustedProxies: ['127.0.0.4'] });
    const via = (client: string, key: string) => ask(port, '/v1/sessions', { from: '127.0.0.4', body: session(key), headers: { 'x-forwarded-for': client } });
    expect(await via('198.51.100.1', 'p1')).toBe(201);
    expect(await via('198.51.100.2', 'p2')).toBe(201); // two clients behind one proxy
    expect(await via('198.51.100.1', 'p3')).toBe(429);
    const untrusted = (key: string, client: string) =>
      ask(port, '/v1/sessions', { from: '127.0.0.5', body: session(key), headers: { 'x-forwarded-for': client } });
    expect(await untrusted('u1', '198.51.100.7')).toBe(201);
    expect(await untrusted('u2', '198.51.100.8')).toBe(429); // its header names no one: the socket is the client
  });

  it('should refuse a session the store disk cannot hold (507)', async () => {
    const port = await embedded({ limits: { maxFileSize: 2 ** 50, maxStagedBytesPerClient: 2 ** 50 } });
    expect(await ask(port, '/v1/sessions', { body: { key: 'huge.bin', size: 2 ** 49, chunking: { kind: 'fixed', block: 16 << 20 } } })).toBe(507);
  });
});
