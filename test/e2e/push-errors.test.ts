// Errors that name their cause, against real servers on loopback: a URL
// that is not http(s), a server that is not deltaflare (told before any byte
// is hashed, for push and pull alike), and a file written, truncated or
// grown while it is pushed (SOURCE_CHANGED naming it; nothing committed).
import { appendFileSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, pull, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve } from '../../worker/node/serve.js';
import { randomBytes } from '../support/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-push-errors-'));
let pool: WorkerPool<ThreadApi>;
let endpoint: Awaited<ReturnType<typeof serve>>;
let web: Server;
let webUrl: string;

beforeAll(async () => {
  pool = await createNodePool(2);
  endpoint = await serve({ dir: join(dir, 'store'), port: 0 });
  // A web server that is not deltaflare: every path answers a page.
  web = createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>hello</title>'));
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  webUrl = `http://127.0.0.1:${(web.address() as { port: number }).port}`;
});
afterAll(async () => {
  web?.close();
  await endpoint?.close();
  pool?.terminate();
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string, bytes: Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

describe('errors that name the cause', () => {
  it('should refuse an endpoint that is not an http(s) URL at the call', async () => {
    const path = file('small.bin', randomBytes(1000, 1));
    for (const bad of ['ftp://example.com', 'not a url', '']) {
      await expect(push(path, { endpoint: bad, key: 'k', pool })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('is not an http:// or https:// URL'),
      });
      await expect(pull(path, { endpoint: bad, key: 'k', pool })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('should say a server is not deltaflare before hashing anything (push) or writing anything (pull)', async () => {
    const path = file('web.bin', randomBytes(8 << 20, 2));
    let hashed = 0;
    const error = await push(path, { endpoint: webUrl, key: 'k', pool, onProgress: (p) => (hashed = Math.max(hashed, p.bytesHashed)) }).catch((e) => e);
    expect(error).toMatchObject({ code: 'MALFORMED', message: expect.stringContaining(`${webUrl} is not a deltaflare endpoint`) });
    expect(hashed).toBe(0);
    await expect(pull(path, { endpoint: webUrl, key: 'k', pool })).rejects.toMatchObject({
      code: 'MALFORMED',
      message: expect.stringContaining('is not a deltaflare endpoint'),
    });
  });

  for (const [how, change] of [
    [
      'overwritten',
      (path: string) => {
        const fd = openSync(path, 'r+');
        writeSync(fd, randomBytes(4096, 9), 0, 4096, 20 << 20);
        closeSync(fd);
      },
    ],
    ['truncated', (path: string) => truncateSync(path, 10 << 20)],
    ['grown', (path: string) => appendFileSync(path, randomBytes(4096, 10))],
  ] as const) {
    it(`should fail with SOURCE_CHANGED naming a file ${how} during its push, committing nothing`, async () => {
      const key = `changed-${how}.bin`;
      const first = file(`${key}-v1`, randomBytes(1 << 20, 3));
      const stored = await push(first, { endpoint: endpoint.url, key, pool });
      const path = file(key, randomBytes(32 << 20, 4));
      let changed = false;
      const error = await push(path, {
        endpoint: endpoint.url,
        key,
        pool,
        retry: { retries: 0 },
        onProgress: (p) => {
          if (!changed && p.bytesHashed > 0) {
            changed = true;
            change(path);
          }
        },
      }).catch((e) => e);
      expect(changed).toBe(true);
      expect(error).toMatchObject({ code: 'SOURCE_CHANGED', message: expect.stringContaining(key) });
      const head = await fetch(`${endpoint.url}/v1/files/${key}`, { method: 'HEAD' });
      expect(head.headers.get('x-deltaflare-version')).toBe(stored.version); // the stored version stays
    });
  }
});
