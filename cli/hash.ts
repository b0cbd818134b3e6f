// `deltaflare hash`: BLAKE3 (as b3sum prints it) or CRC32 (zlib's, 8 hex
// digits) of files, with the wasm kernels.
import { createReadStream } from 'node:fs';
import { init } from '../core/kernels/index.js';
import { hex, hex32, parse, UsageError } from './usage.js';

/** Reads are 1 MiB at a time: memory stays flat whatever the file size. */
const READ_BYTES = 1 << 20;

/** `deltaflare hash [--algo blake3|crc32] FILE...` */
export async function hashCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { algo: { type: 'string', default: 'blake3' } });
  const algo = values.algo;
  if (algo !== 'blake3' && algo !== 'crc32') throw new UsageError(`--algo must be blake3 or crc32, got '${algo}'`);
  if (positionals.length === 0) throw new UsageError('no FILE given');
  const k = await init();
  for (const file of positionals) {
    const stream = createReadStream(file, { highWaterMark: READ_BYTES });
    if (algo === 'blake3') {
      const hasher = k.createBlake3();
      for await (const piece of stream) hasher.update(piece as Buffer);
      console.log(`${hex(hasher.digest())}  ${file}`);
    } else {
      let crc = 0;
      for await (const piece of stream) crc = k.crc32(piece as Buffer, crc);
      console.log(`${hex32(crc)}  ${file}`);
    }
  }
}
