// Part bodies: what sync() uploads decodes to the literal bytes at their
// offsets, the body buffers are reused from part to part, and a source that
// slices itself (a browser's File) is sent as Blob slices without being read.
import { describe, expect, it } from 'vitest';
import { init, type Kernels } from '../../../core/kernels/index.js';
import { BufferPool } from '../../../core/base/buffer-pool.js';
import { partBody, type PartBody } from '../../../sdk/push/part-body.js';
import { decodePart, partPayloadOffset } from '../../../core/protocol/wire.js';
import { inflateRaw } from '../../../core/protocol/compress.js';
import { blobSource, bytesSource, type SyncSource } from '../../../sdk/source.js';
import type { PartPlan } from '../../../sdk/push/plan.js';
import { randomBytes } from '../../support/bytes.js';

const bytes = (body: PartBody): Uint8Array => {
  if (!(body instanceof Uint8Array)) throw new Error('expected a byte body');
  return body;
};

/** The payload's CRC as the planner gives it: combined from the ops' CRCs. */
const withCrc = (k: Kernels, file: Uint8Array, part: PartPlan): PartPlan => ({
  ...part,
  crc: part.ops.reduce((c, op, i) => {
    const crc = k.crc32(file.subarray(op.newOffset, op.newOffset + op.length));
    return i ? k.crc32Combine(c, crc, op.length) : crc;
  }, 0),
});

/** A Blob source that counts the bytes read into JavaScript through it. */
function countingBlobSource(file: Uint8Array): SyncSource & { readBytes: number } {
  const inner = blobSource(new Blob([file as Uint8Array<ArrayBuffer>]));
  const counted = {
    ...inner,
    readBytes: 0,
    async read(offset: number, length: number) {
      const b = await inner.read(offset, length);
      counted.readBytes += b.length;
      return b;
    },
  };
  return counted;
}

describe('partBody', () => {
  it('should encode the literal ranges, and reuse a raw body buffer once given back', async () => {
    const k = await init();
    const file = randomBytes(1 << 20, 3);
    const source = bytesSource(file);
    const buffers = new BufferPool(1);
    const part = {
      part: 2,
      ops: [
        { newOffset: 100, length: 5000 },
        { newOffset: 70_000, length: 300_000 },
      ],
      literalBytes: 305_000,
    };
    const body = bytes(await partBody(k, source, part, buffers));
    const decoded = decodePart(body, { crc32: (b) => k.crc32(b) });
    expect(decoded.part).toBe(2);
    expect(decoded.deflated).toBe(false);
    expect(Buffer.from(decoded.payload).equals(Buffer.concat([file.subarray(100, 5100), file.subarray(70_000, 370_000)]))).toBe(true);
    buffers.give(body);
    const next = bytes(await partBody(k, source, { part: 3, ops: [{ newOffset: 0, length: 200_000 }], literalBytes: 200_000 }, buffers));
    expect(next.buffer).toBe(body.buffer); // smaller: fits the kept buffer
    buffers.give(next);
    const bigger = bytes(await partBody(k, source, { part: 4, ops: [{ newOffset: 0, length: 600_000 }], literalBytes: 600_000 }, buffers));
    expect(bigger.buffer).not.toBe(body.buffer);
  });

  it('should frame a known payload CRC into the same body as reading the payload for it', async () => {
    const k = await init();
    const file = randomBytes(1 << 20, 4);
    const part = withCrc(k, file, {
      part: 1,
      ops: [
        { newOffset: 10, length: 70_000 },
        { newOffset: 500_000, length: 4096 },
      ],
      literalBytes: 74_096,
    });
    const known = bytes(await partBody(k, bytesSource(file), part, new BufferPool(1)));
    const read = bytes(await partBody(k, bytesSource(file), { ...part, crc: undefined }, new BufferPool(1)));
    expect(Buffer.from(known).equals(Buffer.from(read))).toBe(true);
  });

  it('should send a sliceable source as Blob slices, reading only the 64 KiB deflate sample', async () => {
    const k = await init();
    const file = randomBytes(4 << 20, 5);
    const source = countingBlobSource(file);
    const part = withCrc(k, file, {
      part: 7,
      ops: [
        { newOffset: 1000, length: 2 << 20 },
        { newOffset: 3 << 20, length: 1 << 20 },
      ],
      literalBytes: 3 << 20,
    });
    const body = await partBody(k, source, part, new BufferPool(1));
    expect(body).toBeInstanceOf(Blob);
    expect(source.readBytes).toBe(64 * 1024);
    const decoded = decodePart(new Uint8Array(await (body as Blob).arrayBuffer()), { crc32: (b) => k.crc32(b) }); // checks the framed CRC
    expect(decoded.deflated).toBe(false);
    expect(Buffer.from(decoded.payload).equals(Buffer.concat([file.subarray(1000, 1000 + (2 << 20)), file.subarray(3 << 20, 4 << 20)]))).toBe(true);
  });

  it('should read a sliceable source when its part has no known CRC, or deflates', async () => {
    const k = await init();
    const file = randomBytes(1 << 20, 6);
    const source = countingBlobSource(file);
    const part = { part: 0, ops: [{ newOffset: 0, length: 1 << 20 }], literalBytes: 1 << 20 };
    expect(await partBody(k, source, part, new BufferPool(1))).toBeInstanceOf(Uint8Array);
    const text = new TextEncoder().encode('deltaflare sends only what changed. '.repeat(20_000));
    const z = await partBody(
      k,
      countingBlobSource(text),
      withCrc(k, text, { part: 0, ops: [{ newOffset: 0, length: text.length }], literalBytes: text.length }),
      new BufferPool(1),
    );
    expect(decodePart(bytes(z), { crc32: (b) => k.crc32(b) }).deflated).toBe(true);
  });

  it('should deflate compressible literals into a body of their own and keep the read buffer for the next part', async () => {
    const k = await init();
    const text = new TextEncoder().encode('deltaflare sends only what changed. '.repeat(20_000));
    const buffers = new BufferPool(2);
    const part = { part: 0, ops: [{ newOffset: 0, length: text.length }], literalBytes: text.length };
    const body = bytes(await partBody(k, bytesSource(text), part, buffers));
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
