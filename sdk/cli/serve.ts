import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serve } from '../../worker/node.js';
import { integer, parse, UsageError } from './usage.js';

/**
 * The demo page built by `npm run build:demo` (dist/demo), from this file
 * whether it runs from dist/sdk/cli (built) or sdk/cli (tsx).
 */
export const DEMO_DIR = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/demo' : '../../demo', import.meta.url));

/**
 * `deltaflare serve [--dir D] [--port N] [--host H] [--static DIR | --no-demo]`:
 * the endpoint on Node, files kept as plain files in D, and the demo page (or
 * DIR) at `/`, so one command gives endpoint and page.
 */
export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string', default: './data' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    static: { type: 'string' },
    'no-demo': { type: 'boolean' },
  });
  if (positionals.length) throw new UsageError(`unexpected '${positionals[0]}'`);
  const port = integer('port', values.port, 19876);
  if (port > 65535) throw new UsageError(`--port ${port} is above the maximum 65535`);
  if (values.static !== undefined && !existsSync(String(values.static))) throw new UsageError(`--static ${values.static}: no such folder`);
  const page = values['no-demo'] ? undefined : values.static !== undefined ? String(values.static) : existsSync(DEMO_DIR) ? DEMO_DIR : undefined;
  const server = await serve({ dir: String(values.dir), port, host: String(values.host), static: page });
  console.log(`deltaflare endpoint on ${server.url}, files in ${values.dir}`);
  if (page) console.log(`page at ${server.url}/ (from ${page})`);
  else if (!values['no-demo']) console.log(`no demo page: ${DEMO_DIR} is missing (npm run build:demo)`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
