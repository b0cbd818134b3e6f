// deflate-raw for part payloads through the web CompressionStream, which
// browsers, Node >= 18 and workerd all have. Inflation stops as soon as the
// output passes the size the part declares, so a small hostile body cannot
// expand into a large allocation (deflate reaches ~1000:1 on zeros).
import { concatBytes } from './bytes.js';
import { DeltaflareError } from '../base/errors.js';

type ByteTransform = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

/** Pipes `bytes` through `stream`; the output goes into `into` when given (then at most its length), else into a new array. */
async function pipe(bytes: Uint8Array, stream: ByteTransform, limit: number, what: string, into?: Uint8Array): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  const written = writer.write(bytes).then(() => writer.close());
  written.catch(() => {}); // the reader below reports the error
  const reader = stream.readable.getReader();
  const pieces: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > limit) {
        await reader.cancel();
        throw new DeltaflareError('MALFORMED', `${what}: inflates past ${limit} bytes`);
      }
      if (into) into.set(value, total);
      else pieces.push(value);
      total += value.length;
    }
  } catch (e) {
    if (e instanceof DeltaflareError) throw e;
    throw new DeltaflareError('MALFORMED', `${what}: not valid deflate-raw data`, { cause: e });
  }
  return into ? into.subarray(0, total) : concatBytes(pieces);
}

/** deflate-raw of `bytes`. @example const z = await deflateRaw(payload); const sent = z.length < payload.length ? z : payload */
export async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream('deflate-raw') as ByteTransform, Infinity, 'deflate');
}

/** Inflates deflate-raw `bytes` that must hold at most `limit` bytes (MALFORMED past it: a deflate bomb stops there). */
export async function inflateRawAtMost(bytes: Uint8Array, limit: number, what: string): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream('deflate-raw') as ByteTransform, limit, what);
}

/**
 * Inflates a deflate-raw payload that must hold exactly `expectedLength`
 * bytes (MALFORMED otherwise), into `into` when given (at least that long:
 * a pooled buffer), else into a new array.
 */
export async function inflateRaw(bytes: Uint8Array, expectedLength: number, into?: Uint8Array): Promise<Uint8Array> {
  const out = await pipe(bytes, new DecompressionStream('deflate-raw') as ByteTransform, expectedLength, 'part payload', into?.subarray(0, expectedLength));
  if (out.length !== expectedLength) {
    throw new DeltaflareError('MALFORMED', `part payload: inflates to ${out.length} bytes, literalBytes is ${expectedLength}`);
  }
  return out;
}
