// The Node server's socket guard (worker/node/connections.ts) on a real
// server over loopback: a client address holds at most maxPerClient sockets
// while others still get answers, silent sockets and responses nobody reads
// are closed after their timeouts (awaited as close events, no sleeps).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { push } from '../../../sdk/node/index.js';
import { serve } from '../../../worker/node/serve.js';
import { randomBytes } from '../../support/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-connections-'));
let server: Awaited<ReturnType<typeof serve>>;
let port: number;

beforeAll(async () => {
  server = await serve({ dir: join(dir, 'store'), port: 0, connections: { idleMs: 400, stallMs: 400, maxPerClient: 50 } });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A socket from `localAddress` that has connected. */
async function open(localAddress = '127.0.0.2'): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

describe('connections of the Node server', () => {
  it('should keep at most maxPerClient sockets of one address, answer another address meanwhile, and close the silent ones', async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => open()));
    const closed = sockets.map((s) => once(s, 'close'));
    const res = await fetch(`${server.url}/v1/info`); // from 127.0.0.1
    expect(res.status).toBe(200);
    await Promise.all(closed); // 150 at once, the other 50 after idleMs
  }, 20_000);

  it('should close a download whose client reads nothing', async () => {
    const file = join(dir, 'big.bin');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, randomBytes(32 << 20, 1));
    await push(file, { endpoint: server.url, key: 'big.bin', workers: 1 });
    const s = await open('127.0.0.3');
    s.write(`GET /v1/files/big.bin HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    s.pause(); // reads nothing: the response stalls once the socket buffers fill
    await vi.waitFor(() => expect(server.sockets()).toBe(0), { timeout: 10_000, interval: 50 });
    s.resume(); // what the buffers held, then the end the server sent
    await once(s, 'close');
    expect(s.bytesRead).toBeLessThan(32 << 20);
  }, 20_000);

  it('should make room for a new client by closing the socket idle the longest when maxConnections are open', async () => {
    const small = await serve({ dir: join(dir, 'store-small'), port: 0, connections: { maxConnections: 20, idleMs: 60_000 } });
    const smallPort = Number(new URL(small.url).port);
    try {
      const idle: Socket[] = [];
      for (let i = 0; i < 20; i++) {
        const s = connect({ port: smallPort, host: '127.0.0.1', localAddress: `127.0.0.${10 + (i % 5)}` });
        s.on('error', () => undefined);
        await once(s, 'connect');
        idle.push(s);
      }
      await vi.waitFor(() => expect(small.sockets()).toBe(20), { interval: 20 });
      const firstClosed = once(idle[0], 'close');
      expect((await fetch(`${small.url}/v1/info`)).status).toBe(200); // a 21st socket: the oldest idle one made room
      await firstClosed;
      for (const s of idle) s.destroy();
    } finally {
      await small.close();
    }
  });
});
