// A user's Node server: its own Hono app serves the built page at / and the
// deltaflare endpoint mounted under /sync. Prints its URL, then serves.
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp, initKernels, MemoryStore } from 'deltaflare/server';
import { Hono } from 'hono';

const page = process.argv[2];
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const store = new MemoryStore();
const app = new Hono();
// What the tests measure and slow down: request bytes the endpoint received, and a delay before each part (PART_DELAY_MS).
let received = 0;
const partDelay = Number(process.env.PART_DELAY_MS ?? 0);
app.use('/sync/*', async (c, next) => {
  received += Number(c.req.header('content-length') ?? 0);
  if (partDelay && c.req.method === 'PUT') await new Promise((r) => setTimeout(r, partDelay));
  await next();
});
app.get('/received', (c) => c.json({ bytes: received }));
app.route('/sync', createApp({ store, kernels: await initKernels(), limits: process.env.PART_SIZE ? { partSize: Number(process.env.PART_SIZE) } : {} }));
app.get('/stored/:key', async (c) => {
  const { body } = await store.read(c.req.param('key'));
  return new Response(body);
});
app.get('*', async (c) => {
  const path = c.req.path === '/' ? '/index.html' : c.req.path;
  if (path.includes('..')) return c.notFound();
  const bytes = await readFile(join(page, path)).catch(() => null);
  return bytes ? new Response(bytes, { headers: { 'content-type': types[extname(path)] ?? 'application/octet-stream' } }) : c.notFound();
});
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => console.log(`http://127.0.0.1:${info.port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
