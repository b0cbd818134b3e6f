// `deltaflare serve`: the Node endpoint over a store folder, with the demo
// page (or another folder) served beside /v1.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MIN_SIGNING_SECRET } from '../core/protocol/upload-token.js';
import { LOOPBACK, serve } from '../worker/node/serve.js';
import { integer, parse, UsageError } from './usage.js';

/**
 * The demo page built by `npm run build:demo` (dist/demo), from this file
 * whether it runs from dist/cli (built) or cli (tsx).
 */
export const DEMO_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../dist/demo' : '../demo', import.meta.url));

/**
 * `deltaflare serve [--dir D] [--port N] [--host H] [--static DIR | --no-demo]
 * [--token T] [--read-token T | --protect-reads] [--cors ORIGIN]...`:
 * the endpoint on Node, files kept as plain files in D, and the demo page (or
 * DIR) at `/`, so one command gives endpoint and page. The write token comes
 * from --token or DELTAFLARE_TOKEN; without one, writes are open (a warning
 * is printed when the host is not loopback).
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string', default: './data' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    static: { type: 'string' },
    'no-demo': { type: 'boolean' },
    token: { type: 'string' },
    'read-token': { type: 'string' },
    'protect-reads': { type: 'boolean', default: false },
    cors: { type: 'string', multiple: true },
  });
  if (positionals.length) throw new UsageError(`unexpected '${positionals[0]}'`);
  const port = integer('port', values.port, 19876);
  if (port > 65535) throw new UsageError(`--port ${port} is above the maximum 65535`);
  if (values.static !== undefined && !existsSync(String(values.static))) throw new UsageError(`--static ${values.static}: no such folder`);
  const page = values['no-demo'] ? undefined : values.static !== undefined ? String(values.static) : existsSync(DEMO_DIR) ? DEMO_DIR : undefined;
  const token = typeof values.token === 'string' ? values.token : process.env.DELTAFLARE_TOKEN || undefined;
  const readToken = typeof values['read-token'] === 'string' ? values['read-token'] : undefined;
  const uploadSecret = process.env.DELTAFLARE_UPLOAD_SECRET || undefined;
  if (uploadSecret !== undefined && uploadSecret.length < MIN_SIGNING_SECRET)
    throw new UsageError(`DELTAFLARE_UPLOAD_SECRET has ${uploadSecret.length} characters, fewer than ${MIN_SIGNING_SECRET}`);
  if (token === '' || readToken === '') throw new UsageError('--token and --read-token must not be empty');
  if ((readToken || values['protect-reads']) && !token)
    throw new UsageError('--read-token and --protect-reads need a write token (--token or DELTAFLARE_TOKEN)');
  const extra = (values.cors as unknown as string[] | undefined) ?? [];
  for (const o of extra)
    if (!/^https?:\/\/[^/]+$/.test(o)) throw new UsageError(`--cors ${o}: give an origin like https://app.example (scheme and host, no path)`);
  const host = String(values.host);
  const server = await serve({
    dir: String(values.dir),
    port,
    host,
    static: page,
    access: { token, readToken, uploadSecret, protectReads: values['protect-reads'] === true },
    corsOrigins: extra, // the demo's Vite dev server too only when asked: --cors http://localhost:5173
  });
  console.log(`deltaflare endpoint on ${server.url}, files in ${values.dir}`);
  if (!token && !LOOPBACK.test(host)) {
    console.warn(`warning: serving on ${host} without a token: anyone who reaches this port can write and delete files (give --token or set DELTAFLARE_TOKEN)`);
  }
  console.log(token ? `writes need the token${readToken || values['protect-reads'] ? ', reads too' : '; reads are public'}` : 'no token: writes are open');
  if (token && !uploadSecret && token.length < MIN_SIGNING_SECRET) {
    console.warn(
      `upload tokens are refused: the token has ${token.length} characters, fewer than ${MIN_SIGNING_SECRET} (a longer one, or DELTAFLARE_UPLOAD_SECRET, lets a web app sign them)`,
    );
  }
  if (page) console.log(`page at ${server.url}/ (from ${page})`);
  else if (!values['no-demo']) console.log(`no demo page: ${DEMO_DIR} is missing (npm run build:demo)`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
