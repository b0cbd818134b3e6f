// `deltaflare chunks`: a file's FastCDC-2020 chunks, one line each (offset,
// length, CRC32, BLAKE3), read in bounded pieces.
import { CDC_DEFAULTS } from '../core/base/limits.js';
import { createReadStream } from 'node:fs';
import type { Chunk } from '../core/kernels/api.js';
import { init } from '../core/kernels/index.js';
import { hex, hex32, integer, parse, UsageError } from './usage.js';

const READ_BYTES = 1 << 20;

/** `deltaflare chunks FILE [--min N] [--avg N] [--max N] [--level L]` */
export async function chunksCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    min: { type: 'string' },
    avg: { type: 'string' },
    max: { type: 'string' },
    level: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('give exactly one FILE');
  const options = {
    min: integer('min', values.min, CDC_DEFAULTS.min),
    avg: integer('avg', values.avg, CDC_DEFAULTS.avg),
    max: integer('max', values.max, CDC_DEFAULTS.max),
    level: integer('level', values.level, CDC_DEFAULTS.level),
    blake3: true,
  };
  const k = await init();
  const chunker = k.createChunker(options); // validates the limits before any read
  const print = (chunks: Chunk[]) => {
    // One write per batch: console.log per line would dominate on small chunks.
    if (chunks.length === 0) return;
    process.stdout.write(chunks.map((c) => `${c.offset} ${c.length} ${hex32(c.crc32)} ${hex(c.blake3!)}\n`).join(''));
  };
  for await (const piece of createReadStream(positionals[0], { highWaterMark: READ_BYTES })) print(chunker.push(piece as Buffer));
  print(chunker.finish());
}
