// A user's Node program: the endpoint embedded twice, mounted under a prefix
// inside a Hono app (/sync) and served by Node's own http under /files
// (createApp's basePath), and a push of a file and of an edited version to
// each through the prefixed URL. Prints one JSON line of what it saw.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener, serve } from '@hono/node-server';
import { push } from 'deltaflare';
import { createApp, FsStore, initKernels, MemoryStore } from 'deltaflare/server';
import { Hono } from 'hono';

const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
const kernels = await initKernels();
const dir = mkdtempSync(join(tmpdir(), 'consumer-'));

const hono = new Hono();
hono.route('/sync', createApp({ store: new MemoryStore(), kernels }));
hono.get('/', (c) => c.text('my app'));
const inHono = await new Promise((resolve) => {
  const s = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve({ s, url: `http://127.0.0.1:${info.port}/sync` }));
});

const files = createApp({ store: await FsStore.open(join(dir, 'store')), kernels, basePath: '/files' });
const listener = getRequestListener(files.fetch);
const plain = createServer((req, res) => (req.url.startsWith('/files/') ? listener(req, res) : res.writeHead(404).end()));
const inHttp = { s: plain, url: `${await listen(plain)}/files` };

const out = {};
for (const [name, { url }] of Object.entries({ hono: inHono, http: inHttp })) {
  const v1 = randomBytes(3 << 20);
  const v2 = Buffer.concat([v1.subarray(0, 1 << 20), randomBytes(64 << 10), v1.subarray(1 << 20)]);
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, v1);
  const first = await push(path, { endpoint: url, key: 'data.bin', workers: 2 });
  writeFileSync(path, v2);
  const second = await push(path, { endpoint: url, key: 'data.bin', workers: 2 });
  const stored = Buffer.from(await (await fetch(`${url}/v1/files/data.bin`)).arrayBuffer());
  const root = await (await fetch(url.replace(/\/(sync|files)$/, '/'))).status;
  out[name] = { first: first.literalBytes, second: second.literalBytes, size: v2.length, same: stored.equals(v2), root };
}
// The mistake the README warns of: the token beside `access`. Refused when made, never an open endpoint.
try {
  createApp({ store: new MemoryStore(), token: 's3cret' });
  out.misspelt = 'accepted';
} catch (e) {
  out.misspelt = e.message;
}
console.log(JSON.stringify(out));
inHono.s.close();
plain.close();
