// readBody with a Content-Length: the body is copied into one buffer (a
// pooled one when given), and a stream that disagrees with its header is
// still read whole or refused at the cap, never truncated or overrun.
import { describe, expect, it } from 'vitest';
import { readBody } from '../../worker/body.js';
import { ApiError } from '../../worker/errors.js';

/** A request whose body arrives in `pieces`, declaring `length` (null: no header). */
function request(pieces: Uint8Array[], length: number | null): Request {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of pieces) c.enqueue(p);
      c.close();
    },
  });
  const headers = length === null ? undefined : { 'content-length': String(length) };
  return new Request('http://x/', { method: 'PUT', body, headers, duplex: 'half' } as RequestInit);
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe('readBody', () => {
  it('should read a declared body into the given buffer, in place', async () => {
    const a = bytes(1000, 1);
    const b = bytes(500, 2);
    const into = new Uint8Array(4096);
    const out = await readBody(request([a, b], 1500), 10_000, 'part', into);
    expect(out.buffer).toBe(into.buffer);
    expect(same(out, Buffer.concat([a, b]))).toBe(true);
  });

  it('should read the whole body when the stream is longer or shorter than declared', async () => {
    const a = bytes(1000, 3);
    const b = bytes(700, 4);
    const whole = Buffer.concat([a, b]);
    const into = new Uint8Array(4096);
    const longer = await readBody(request([a, b], 1200), 10_000, 'part', into);
    expect(same(longer, whole)).toBe(true);
    expect(longer.buffer).not.toBe(into.buffer); // a body past its header is copied out, never left in the pooled buffer
    expect(same(await readBody(request([a, b], 3000), 10_000, 'part', into), whole)).toBe(true);
    expect(same(await readBody(request([a, b], null), 10_000, 'part'), whole)).toBe(true);
  });

  it('should refuse a body past the cap whatever it declared', async () => {
    const e = await readBody(request([bytes(600, 5), bytes(600, 6)], 500), 1000, 'part').catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe('TOO_LARGE');
    expect((e as ApiError).message).toContain('limit 1000');
  });
});
