// Part bodies: what sync() uploads decodes to the literal bytes at their
// offsets, and the body buffers are reused from part to part.
import { describe, expect, it } from 'vitest';
import { init } from '../../sdk/kernels/index.js';
import { BufferPool } from '../../sdk/buffer-pool.js';
import { partBody } from '../../sdk/part-body.js';
import { decodePart, partPayloadOffset } from '../../sdk/protocol/wire.js';
import { inflateRaw } from '../../sdk/protocol/compress.js';
import { bytesSource } from '../../sdk/source.js';
import { randomBytes } from '../bytes.js';

describe('partBody', () => {
  it('should encode the literal ranges, and reuse a raw body buffer once given back', async () => {
    const k = await init();
    const file = randomBytes(1 << 20, 3);
    const source = bytesSource(file);
    const buffers = new BufferPool(1);
    const part = { part: 2, ops: [{ newOffset: 100, length: 5000 }, { newOffset: 70_000, length: 300_000 }], literalBytes: 305_000 };
    const body = await partBody(k, source, part, buffers);
    const decoded = decodePart(body, { crc32: (b) => k.crc32(b) });
    expect(decoded.part).toBe(2);
    expect(decoded.deflated).toBe(false);
    expect(Buffer.from(decoded.payload).equals(Buffer.concat([file.subarray(100, 5100), file.subarray(70_000, 370_000)]))).toBe(true);
    buffers.give(body);
    const next = await partBody(k, source, { part: 3, ops: [{ newOffset: 0, length: 200_000 }], literalBytes: 200_000 }, buffers);
    expect(next.buffer).toBe(body.buffer); // smaller: fits the kept buffer
    buffers.give(next);
    const bigger = await partBody(k, source, { part: 4, ops: [{ newOffset: 0, length: 600_000 }], literalBytes: 600_000 }, buffers);
    expect(bigger.buffer).not.toBe(body.buffer);
  });

  it('should deflate compressible literals into a body of their own and keep the read buffer for the next part', async () => {
    const k = await init();
    const text = new TextEncoder().encode('deltaflare sends only what changed. '.repeat(20_000));
    const buffers = new BufferPool(2);
    const part = { part: 0, ops: [{ newOffset: 0, length: text.length }], literalBytes: text.length };
    const body = await partBody(k, bytesSource(text), part, buffers);
    const decoded = decodePart(body, { crc32: (b) => k.crc32(b) });
    expect(decoded.deflated).toBe(true);
    expect(body.length).toBeLessThan(text.length / 10);
    expect(Buffer.from(await inflateRaw(decoded.payload, text.length)).equals(Buffer.from(text))).toBe(true);
    // The buffer the literals were read into came back: it still holds them after the part's header.
    const reused = buffers.take(text.length);
    const at = partPayloadOffset(1);
    expect(Buffer.from(reused.subarray(at, at + 1000)).equals(Buffer.from(text.subarray(0, 1000)))).toBe(true);
    buffers.give(body); // not one of ours: ignored
    expect(buffers.take(10).buffer).not.toBe(body.buffer);
  });
});
