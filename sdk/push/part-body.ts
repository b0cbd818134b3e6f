// A part's body (wire.ts `part` message), built from the new file's bytes:
// what sync() uploads for each part of the plan.
//
// A source that can slice itself (a browser's File) gets a Blob body: the
// frame around the payload plus slices of the file, which fetch streams from
// disk without the bytes entering JavaScript. In Chromium an 8 MiB
// Uint8Array body costs ~250 ms of the page's thread against ~80 ms for a
// Blob slice (docs/benchmarks.md). The part's CRC then comes from its
// chunks' CRCs (PartPlan.crc), so nothing is read but a 64 KiB sample.
import type { BufferPool } from '../../core/base/buffer-pool.js';
import type { Kernels } from '../../core/kernels/index.js';
import { deflateRaw } from '../../core/protocol/compress.js';
import type { PartPlan } from './plan.js';
import type { LiteralOp } from '../../core/protocol/wire.js';
import { encodePart, partBodyBytes, partFrame, partPayloadOffset } from '../../core/protocol/wire.js';
import type { SyncSource } from '../source.js';

/** Payloads smaller than this are sent raw: deflate's framing would not pay. */
const MIN_DEFLATE = 1024;
/** Deflate only when a 64 KiB sample shrinks below 90%: media and random data do not, and deflating them costs ~10 ms/MiB. */
const SAMPLE = 64 * 1024;

/** A body as fetch takes it: bytes (from `buffers`, given back once sent) or a Blob over the file. */
export type PartBody = Uint8Array | Blob;

/**
 * The body of `part`: its literal bytes from `source`, deflated when that
 * pays, framed with its CRC32. Without deflate, a source with `slice` and a
 * part with a known CRC give a Blob; otherwise the literal bytes are read
 * into the body that will be sent (a buffer of `buffers`), not into a
 * payload then copied.
 */
export async function partBody(k: Kernels, source: SyncSource, part: PartPlan, buffers: BufferPool): Promise<PartBody> {
  const crc = { crc32: (b: Uint8Array) => k.crc32(b), crc32Combine: (a: number, b: number, n: number) => k.crc32Combine(a, b, n) };
  const compressible =
    part.literalBytes >= MIN_DEFLATE && (await shrinks(await readPayload(source, part.ops, new Uint8Array(Math.min(SAMPLE, part.literalBytes)))));
  if (!compressible && source.slice && part.crc !== undefined) {
    const { head, tail } = partFrame(part, { ...crc, payloadCrc: part.crc });
    return new Blob([head, ...part.ops.map((op) => source.slice!(op.newOffset, op.length)), tail]);
  }
  const whole = buffers.take(partBodyBytes(part.ops.length, part.literalBytes));
  const start = partPayloadOffset(part.ops.length);
  const payload = await readPayload(source, part.ops, whole.subarray(start, start + part.literalBytes));
  if (compressible) {
    const z = await deflateRaw(payload);
    if (z.length < payload.length) {
      buffers.give(whole);
      return encodePart({ ...part, deflated: true, payload: z }, crc);
    }
  }
  return encodePart({ ...part, deflated: false, payload }, { ...crc, payloadCrc: part.crc, into: whole });
}

/** Whether deflate shrinks `sample` below 90%. */
async function shrinks(sample: Uint8Array): Promise<boolean> {
  return (await deflateRaw(sample)).length < 0.9 * sample.length;
}

/**
 * Fills `target` with the first target.length bytes of the payload (the
 * ops' bytes in order), reading ranges 8 at a time: one at a time, 256
 * scattered 4 KiB edits of a VM image took ~220 ms of file reads in series.
 */
async function readPayload(source: SyncSource, ops: LiteralOp[], target: Uint8Array): Promise<Uint8Array> {
  const ranges: Array<{ offset: number; at: number; length: number }> = [];
  for (let i = 0, at = 0; i < ops.length && at < target.length; at += ops[i++].length) {
    ranges.push({ offset: ops[i].newOffset, at, length: Math.min(ops[i].length, target.length - at) });
  }
  for (let i = 0; i < ranges.length; i += 8) {
    await Promise.all(
      ranges.slice(i, i + 8).map(async ({ offset, at, length }) => {
        const into = target.subarray(at, at + length);
        if (source.readInto) await source.readInto(offset, into);
        else into.set(await source.read(offset, length));
      }),
    );
  }
  return target;
}
