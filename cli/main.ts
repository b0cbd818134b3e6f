#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2
// The `deltaflare` command: one file per subcommand, dispatched here.
//
// The shebang sizes memory for a long-running `serve` (measured on the 1 GiB
// case of bench:sync, server peak RSS 173 -> 125 MiB, push time unchanged
// within noise): V8's young generation capped at 2 MiB semi-spaces instead of
// 16 MiB (-36 MiB), and glibc told to mmap every block over 128 KiB instead
// of raising that threshold as big buffers are freed, which kept ~20 MiB of
// freed part and copy buffers in its heap. Neither can be set from inside a
// running process. `env -S` needs GNU coreutils 8.30+ or BSD/macOS env.
import { CDC_DEFAULTS } from '../core/base/limits.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { DeltaflareError } from '../core/base/errors.js';
import { startNodeThread } from '../sdk/pool/node-thread.js';
import { UsageError } from './usage.js';

// `push` and `pull` start their pool's threads before loading the rest of the client, so
// each thread's boot (isolate, Node, the worker's modules: ~40 ms of CPU
// each, longer while this thread and the server compete for the cores) runs
// while this thread loads the client and opens the session (or fetches the manifest).
const threads = ['push', 'pull'].includes(process.argv[2]) ? Array.from({ length: workersArg(process.argv.slice(3)) }, () => startNodeThread()) : undefined;

/** The thread count push or pull will use: --workers N when it is a whole number, else one per core (the command checks the option itself). */
function workersArg(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const value = args[i] === '--workers' ? args[i + 1] : args[i].startsWith('--workers=') ? args[i].slice(10) : undefined;
    if (value !== undefined) return /^\d{1,3}$/.test(value) ? Number(value) : availableParallelism();
  }
  return availableParallelism();
}

const D = CDC_DEFAULTS;
/** Each command's usage: `deltaflare CMD --help` prints its own. */
const HELP: Record<string, string> = {
  hash: `  hash [--algo blake3|crc32] FILE...     print "<hex>  <file>" per file, as b3sum does`,
  chunks: `  chunks FILE [--min N] [--avg N] [--max N] [--level L]
                                         print "offset length crc32 blake3" per FastCDC-2020 chunk
                                         (defaults: min ${D.min}, avg ${D.avg}, max ${D.max}, level ${D.level})`,
  serve: `  serve [--dir ./data] [--port 19876] [--host 127.0.0.1] [--static DIR | --no-demo]
        [--token T] [--read-token T | --protect-reads] [--cors ORIGIN]...
                                         the endpoint on Node; files kept as plain files in --dir;
                                         the demo page (or DIR) at /; writes need T (--token or
                                         DELTAFLARE_TOKEN) when given; --cors adds browser origins`,
  push: `  push FILE URL [--key K] [--basis K] [--chunking cdc|fixed] [--block N] [--avg N]
       [--workers N] [--in-place] [--token T] [--timeout S] [--resume-dir D | --no-resume]
       [--meta NAME=VALUE]... [--progress | --no-progress] [--json]
                                         send only what changed; the key defaults to FILE's name;
                                         --meta pairs are stored with the version (HEAD shows them);
                                         URL may carry a path (an endpoint mounted under /sync);
                                         the token defaults to DELTAFLARE_TOKEN; a request unanswered
                                         after S seconds (default 300, 0 never) is retried;
                                         a push cut short and run again sends only what the endpoint
                                         lacks (records in D, default ~/.local/state/deltaflare/resume);
                                         --json prints the result (or the error) as one JSON object`,
  pull: `  pull URL FILE [--key K] [--in-place] [--no-fsync] [--workers N] [--token T] [--timeout S]
       [--progress | --no-progress] [--json]
                                         update FILE to the key's version, fetching only the chunks
                                         it lacks (a missing FILE is downloaded); FILE is replaced
                                         only once every chunk is checked; an interrupted pull
                                         resumes from FILE.deltaflare-pull; --in-place rebuilds
                                         inside FILE (no second copy; torn if it fails); --no-fsync
                                         leaves the new bytes to the kernel's writeback, as rsync does;
                                         one progress line with rate and ETA on a terminal
                                         (--progress draws it anyway, --no-progress never)`,
  bench: `  bench OLD NEW [--chunking cdc|fixed] [--block N] [--avg N] [--workers N] [--in-place] [--json]
                                         the whole pipeline in one process, no network: time per phase
                                         and literal bytes, to compare settings on your own data`,
};

const USAGE = `Usage: deltaflare <command> [options]

Commands:
${Object.values(HELP).join('\n')}

Options:
  -h, --help                             show this help (after a command: that command's)
  -v, --version                          print the version`;

/** The package's version, from its package.json (one folder up from cli/, two from dist/cli/). */
function version(): string {
  const up = import.meta.url.endsWith('.ts') ? '../package.json' : '../../package.json';
  return (JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { version: string }).version;
}

/** Why a file could not be opened, in words, for Node's errno codes. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EMFILE: 'too many open files',
};

/** The message a failed command prints: a file error names the file and why; anything else its own message. */
function describe(e: unknown): { code: string; message: string } {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.path && FILE_ERRORS[err.code]) {
    return { code: err.code, message: `deltaflare: cannot open ${err.path}: ${FILE_ERRORS[err.code]} (${err.code})` };
  }
  if (e instanceof DeltaflareError) return { code: e.code, message: e.message };
  return { code: 'ERROR', message: e instanceof Error ? e.message : String(e) };
}

// Loaded on demand: `push` need not load the server (hono, the store) and
// `serve` need not load the worker pool; that saves ~100 ms of start-up.
const commands: Record<string, () => Promise<(args: string[], threads?: Worker[]) => Promise<void>>> = {
  hash: async () => (await import('./hash.js')).hashCommand,
  chunks: async () => (await import('./chunks.js')).chunksCommand,
  push: async () => (await import('./push.js')).pushCommand,
  pull: async () => (await import('./pull.js')).pullCommand,
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
  if (name === '-v' || name === '--version') {
    console.log(version());
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`deltaflare: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`Usage: deltaflare ${HELP[name].trimStart()}`);
    return 0;
  }
  try {
    await (await load())(args, threads);
    return 0;
  } catch (e) {
    const usage = e instanceof UsageError || (e instanceof DeltaflareError && e.code === 'INVALID_ARGUMENT');
    const { code, message } = describe(e);
    if (args.includes('--json')) {
      // A script reading --json output gets the failure as JSON too, on stdout where the result would be.
      console.log(JSON.stringify({ error: { code: e instanceof UsageError ? 'USAGE' : code, message } }));
    } else if (e instanceof UsageError) {
      console.error(`deltaflare ${name}: ${e.message}\n\nUsage: deltaflare ${HELP[name].trimStart()}`);
    } else console.error(message);
    return usage ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
// The command's result is out. Work it left behind (a failed push's other part
// uploads still retrying, say) must not hold the exit for long: a second later
// the process ends even if the event loop has not drained (`serve` never gets
// here while it serves). Unref'd, so a clean exit is not delayed.
setTimeout(() => process.exit(), 1000).unref();
