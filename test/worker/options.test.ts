// Options checked when they are given: a misspelt option (the write token at
// the top level instead of in `access`) is an error naming it and the known
// ones, never an endpoint that starts open; a missing store is named; the
// kernels load by default from deltaflare/server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodePool, pull, push, sync } from '../../sdk/node/index.js';
import { fileSource } from '../../sdk/node/file-source.js';
import { createApp as createCoreApp } from '../../worker/http/app.js';
import { createApp, FsStore, MemoryStore, serve } from '../../worker/node/index.js';
import { kernels } from './setup.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error `fn` throws (or rejects with). */
async function thrown(fn: () => unknown): Promise<{ code?: string; message: string }> {
  try {
    await fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('did not throw');
}

describe('options checked at the call', () => {
  it('should refuse createApp with the token beside access instead of in it, naming where it goes', async () => {
    const e = await thrown(() => createApp({ store: new MemoryStore(), kernels, token: 's3cret' } as never));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain('createApp: unknown option "token" (did you mean access: { token }?)');
    expect(e.message).toContain('store, kernels, limits');
    expect((await thrown(() => createApp({ store: new MemoryStore(), access: { tokn: 'x' } } as never))).message).toContain(
      'createApp access: unknown option "tokn" (did you mean token?)',
    );
    expect((await thrown(() => createApp({ store: new MemoryStore(), access: { token: '' } }))).message).toContain('access.token must be a non-empty string');
    expect((await thrown(() => createApp({ store: new MemoryStore(), limits: { partsize: 1 } } as never))).message).toContain(
      'limits: unknown option "partsize" (did you mean partSize?)',
    );
  });

  it('should name a missing store, a folder given where a store goes, and no options at all', async () => {
    expect((await thrown(() => createApp({ dir: './data' } as never))).message).toContain('unknown option "dir" (did you mean store: await FsStore.open(dir)');
    expect((await thrown(() => createApp({} as never))).message).toContain('createApp needs a store: store: await FsStore.open(dir), or new MemoryStore()');
    expect((await thrown(() => (createApp as (o?: unknown) => unknown)())).message).toContain('createApp takes an options object, got undefined');
    expect((await thrown(() => createCoreApp({ store: new MemoryStore() } as never))).message).toContain('createApp needs the kernels');
  });

  it('should load the kernels when deltaflare/server is given none, and serve a push', async () => {
    const app = createApp({ store: await FsStore.open(join(dir, 'store')), access: { token: 'the-token' } });
    const server = await serve({ dir: join(dir, 'served'), port: 0, access: { token: 'the-token' } });
    try {
      expect((await app.request('/v1/info')).status).toBe(200);
      expect((await app.request('/v1/sessions', { method: 'POST', body: '{}' })).status).toBe(401); // closed: the token was taken
      const file = join(dir, 'a.bin');
      writeFileSync(file, new Uint8Array(100_000).fill(7));
      expect((await push(file, { endpoint: server.url, key: 'a.bin', workers: 1, token: 'the-token' })).size).toBe(100_000);
    } finally {
      await server.close();
    }
  });

  it('should refuse unknown options of serve, push, pull and sync before doing anything', async () => {
    expect((await thrown(() => serve({ dir: join(dir, 'x'), token: 't' } as never))).message).toContain(
      'serve: unknown option "token" (did you mean access: { token }?)',
    );
    expect((await thrown(() => serve({ dir: join(dir, 'x'), connections: { idle: 1 } } as never))).message).toContain(
      'serve connections: unknown option "idle"',
    );
    const file = join(dir, 'b.bin');
    writeFileSync(file, new Uint8Array(10));
    const endpoint = 'http://127.0.0.1:9'; // nothing listens: a call that got past the check would fail with NETWORK
    expect(await thrown(() => push(file, { endpoint, key: 'b', tokn: 'x' } as never))).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('push: unknown option "tokn" (did you mean token?)'),
    });
    expect((await thrown(() => pull(file, { endpoint, key: 'b', inplace: true } as never))).message).toContain(
      'pull: unknown option "inplace" (did you mean inPlace?)',
    );
    const pool = await createNodePool(1);
    const source = await fileSource(file); // opened here and closed below: not left opening while the folder goes
    try {
      expect((await thrown(() => sync(source, { endpoint, key: 'b', pool, workers: 2 } as never))).message).toContain(
        'sync: unknown option "workers" (did you mean pool',
      );
    } finally {
      pool.terminate();
      await source.close?.();
    }
  });
});
