import { serve } from '../../worker/node.js';
import { integer, parse, UsageError } from './usage.js';

/** `deltaflare serve [--dir D] [--port N] [--host H]`: the endpoint on Node, files kept as plain files in D. */
export async function serveCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string', default: './data' },
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  });
  if (positionals.length) throw new UsageError(`unexpected '${positionals[0]}'`);
  const port = integer('port', values.port, 19876);
  if (port > 65535) throw new UsageError(`--port ${port} is above the maximum 65535`);
  const server = await serve({ dir: String(values.dir), port, host: String(values.host) });
  console.log(`deltaflare endpoint on ${server.url}, files in ${values.dir}`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
