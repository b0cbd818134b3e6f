#!/usr/bin/env node
// The `deltaflare` command: one file per subcommand, dispatched here.
import { DeltaflareError } from '../errors.js';
import { UsageError } from './usage.js';

const USAGE = `Usage: deltaflare <command> [options]

Commands:
  hash [--algo blake3|crc32] FILE...     print "<hex>  <file>" per file, as b3sum does
  chunks FILE [--min N] [--avg N] [--max N] [--level L]
                                         print "offset length crc32 blake3" per FastCDC-2020 chunk
                                         (defaults: min 2048, avg 8192, max 65536, level 1)

  serve [--dir ./data] [--port 19876] [--host 127.0.0.1] [--static DIR | --no-demo]
        [--token T] [--read-token T | --protect-reads] [--cors ORIGIN]...
                                         the endpoint on Node; files kept as plain files in --dir;
                                         the demo page (or DIR) at /; writes need T (--token or
                                         DELTAFLARE_TOKEN) when given; --cors adds browser origins
  push FILE URL [--key K] [--basis K] [--chunking cdc|fixed] [--block N] [--avg N]
       [--workers N] [--in-place] [--token T] [--json]
                                         send only what changed; the key defaults to FILE's name;
                                         the token defaults to DELTAFLARE_TOKEN
  bench OLD NEW [--chunking cdc|fixed] [--block N] [--avg N] [--workers N] [--in-place] [--json]
                                         the whole pipeline in one process, no network: time per phase
                                         and literal bytes, to compare settings on your own data

Options:
  -h, --help                             show this help`;

// Loaded on demand: `push` need not load the server (hono, the store) and
// `serve` need not load the worker pool; that saves ~100 ms of start-up.
const commands: Record<string, () => Promise<(args: string[]) => Promise<void>>> = {
  hash: async () => (await import('./hash.js')).hashCommand,
  chunks: async () => (await import('./chunks.js')).chunksCommand,
  push: async () => (await import('./push.js')).pushCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    console.error(USAGE); // no command is a usage error: stderr, exit 2
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    console.log(USAGE);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`deltaflare: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    await (await load())(args);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`deltaflare ${name}: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof DeltaflareError && e.code === 'INVALID_ARGUMENT') {
      console.error(e.message);
      return 2;
    }
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
