// The client's HTTP layer against a real server on loopback: which failures
// it retries (lost connections, 5xx, requests left unanswered past
// timeoutMs), which it does not (4xx, the caller's abort), and the typed
// error each ends in.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../core/base/errors.js';
import { Http } from '../../sdk/http.js';
import { randomBytes } from '../support/bytes.js';

/** Per path: what the server does on the n-th request (0-based) to it. */
type Behaviour = (n: number, req: IncomingMessage, res: ServerResponse) => void;
const stall: Behaviour = () => undefined; // reads nothing, answers nothing
const ok: Behaviour = (_n, _req, res) => res.end('fine');
const routes: Record<string, Behaviour> = {
  '/stall-once': (n, req, res) => (n === 0 ? stall(n, req, res) : ok(n, req, res)),
  '/stall': stall,
  '/busy-once': (n, req, res) => (n === 0 ? res.writeHead(503).end('{"error":{"code":"INTERNAL","message":"busy"}}') : ok(n, req, res)),
  '/refuse': (_n, _req, res) => res.writeHead(409).end('{"error":{"code":"PART_CONFLICT","message":"taken"}}'),
  // Answers how the body came: its framing headers and a digest of its bytes; the first request stalls after reading it.
  '/echo-stall-once': (n, req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (b: Buffer) => {
      hash.update(b);
      bytes += b.length;
    });
    req.on('end', () => {
      if (n === 0) return;
      res.end(
        JSON.stringify({ length: req.headers['content-length'] ?? null, chunked: req.headers['transfer-encoding'] ?? null, bytes, sha256: hash.digest('hex') }),
      );
    });
  },
};
const seen: Record<string, number> = {};
let base = '';
const server = createServer((req, res) => {
  const path = req.url!;
  const n = seen[path] ?? 0;
  seen[path] = n + 1;
  routes[path](n, req, res);
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const fast = { retries: 2, delay: () => 10 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('should have failed'),
    (e: unknown) => e as DeltaflareError,
  );

describe('Http', () => {
  it('should retry a request left unanswered past timeoutMs, and succeed on the answer', async () => {
    const http = new Http(base, { timeoutMs: 300, retry: fast });
    expect(text(await http.bytes('PUT', '/stall-once', new Uint8Array(1000)))).toBe('fine');
    expect(seen['/stall-once']).toBe(2);
  });

  it('should fail with NETWORK naming the timeout once every attempt went unanswered', async () => {
    const http = new Http(base, { timeoutMs: 200, retry: fast });
    const e = await failure(http.bytes('GET', '/stall'));
    expect(e).toBeInstanceOf(DeltaflareError);
    expect(e.code).toBe('NETWORK');
    expect(e.message).toContain('GET /stall: no answer within 200 ms');
    expect(seen['/stall']).toBe(3);
  });

  it('should end in ABORTED, not a retry, when the caller aborts a stalled request', async () => {
    const stop = new AbortController();
    const http = new Http(base, { timeoutMs: 60_000, retry: fast, signal: stop.signal });
    const before = seen['/stall'] ?? 0;
    setTimeout(() => stop.abort('user cancelled'), 100);
    const e = await failure(http.bytes('GET', '/stall'));
    expect(e.code).toBe('ABORTED');
    expect(seen['/stall']).toBe(before + 1);
  });

  it('should retry a 5xx and not a 4xx, keeping the code of the JSON body', async () => {
    const http = new Http(base, { retry: fast });
    expect(text(await http.bytes('GET', '/busy-once'))).toBe('fine');
    expect(seen['/busy-once']).toBe(2);
    const e = await failure(http.bytes('GET', '/refuse'));
    expect(e.code).toBe('PART_CONFLICT');
    expect(e.status).toBe(409);
    expect(seen['/refuse']).toBe(1);
  });

  it('should stream a large body with its Content-Length (not chunked) when streamBodies is set, and send it whole again on a retry', async () => {
    const body = randomBytes((3 << 20) + 12345, 7);
    const kinds: string[] = [];
    const watched: typeof fetch = (input, init) => {
      kinds.push(init?.body instanceof ReadableStream ? 'stream' : typeof init?.body);
      return fetch(input, init);
    };
    const http = new Http(base, { streamBodies: true, timeoutMs: 500, retry: fast, fetch: watched });
    const got = JSON.parse(text(await http.bytes('PUT', '/echo-stall-once', body, 'application/octet-stream')));
    expect(got).toEqual({ length: String(body.length), chunked: null, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(seen['/echo-stall-once']).toBe(2);
    expect(kinds).toEqual(['stream', 'stream']); // the array itself never went to fetch, so fetch made no copy of it
    kinds.length = 0;
    await new Http(base, { streamBodies: true, fetch: watched }).bytes('PUT', '/busy-once', new Uint8Array(1000));
    expect(kinds).toEqual(['object']); // small bodies go as they are
  });

  it('should ask for no HTTP cache on every request (a browser cache restarted ranged GETs, fetching them twice)', async () => {
    const modes: Array<RequestCache | undefined> = [];
    const watched: typeof fetch = (input, init) => {
      modes.push(init?.cache);
      return fetch(input, init);
    };
    const http = new Http(base, { fetch: watched });
    await http.get('/busy-once', { range: 'bytes=0-1' });
    await http.bytes('PUT', '/refuse', new Uint8Array(10)).catch(() => undefined);
    expect(modes.length).toBeGreaterThanOrEqual(2);
    expect(modes.every((m) => m === 'no-store')).toBe(true);
  });
});
