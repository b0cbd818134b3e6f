// deflate-raw for part payloads through the web CompressionStream, which
// browsers, Node >= 18 and workerd all have. Inflation stops as soon as the
// output passes the size the part declares, so a small hostile body cannot
// expand into a large allocation (deflate reaches ~1000:1 on zeros).
import { DeltaflareError } from '../errors.js';

type ByteTransform = { writable: WritableStream<Uint8Array>; readable: ReadableStream<Uint8Array> };

async function pipe(bytes: Uint8Array, stream: ByteTransform, limit: number, what: string): Promise<Uint8Array> {
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
      total += value.length;
      if (total > limit) {
        await reader.cancel();
        throw new DeltaflareError('MALFORMED', `${what}: inflates past ${limit} bytes`);
      }
      pieces.push(value);
    }
  } catch (e) {
    if (e instanceof DeltaflareError) throw e;
    throw new DeltaflareError('MALFORMED', `${what}: not valid deflate-raw data`, { cause: e });
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) out.set(p, (at += p.length) - p.length);
  return out;
}

/** deflate-raw of `bytes`. @example const z = await deflateRaw(payload); if (z.length < payload.length) ... */
export async function deflateRaw(bytes: Uint8Array): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream('deflate-raw') as ByteTransform, Infinity, 'deflate');
}

/** Inflates a deflate-raw payload that must hold exactly `expectedLength` bytes (MALFORMED otherwise). */
export async function inflateRaw(bytes: Uint8Array, expectedLength: number): Promise<Uint8Array> {
  const out = await pipe(bytes, new DecompressionStream('deflate-raw') as ByteTransform, expectedLength, 'part payload');
  if (out.length !== expectedLength) {
    throw new DeltaflareError('MALFORMED', `part payload: inflates to ${out.length} bytes, literalBytes is ${expectedLength}`);
  }
  return out;
}
