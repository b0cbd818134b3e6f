// A part's body (wire.ts `part` message), built from the new file's bytes:
// what sync() uploads for each part of the plan.
import type { BufferPool } from './buffer-pool.js';
import type { Kernels } from './kernels/index.js';
import { deflateRaw } from './protocol/compress.js';
import type { PartPlan } from './protocol/plan.js';
import { encodePart, partBodyBytes, partPayloadOffset } from './protocol/wire.js';
import type { SyncSource } from './source.js';

/** Payloads smaller than this are sent raw: deflate's framing would not pay. */
const MIN_DEFLATE = 1024;
/** Deflate only when a 64 KiB sample shrinks below 90%: media and random data do not, and deflating them costs ~10 ms/MiB. */
const SAMPLE = 64 * 1024;

/**
 * The body of `part`: its literal bytes read from `source`, deflated when
 * that pays, with its CRC32. The literal bytes are read into the body that
 * will be sent (a buffer of `buffers`), not into a payload then copied.
 */
export async function partBody(k: Kernels, source: SyncSource, part: PartPlan, buffers: BufferPool): Promise<Uint8Array> {
  const whole = buffers.take(partBodyBytes(part.ops.length, part.literalBytes));
  const start = partPayloadOffset(part.ops.length);
  const payload = whole.subarray(start, start + part.literalBytes);
  const readInto = (source as { readInto?: (offset: number, target: Uint8Array) => Promise<void> }).readInto;
  // Ranges read 8 at a time: one at a time, 256 scattered 4 KiB edits of a VM image took ~220 ms of file reads in series.
  const at: number[] = [];
  for (let i = 0, o = 0; i < part.ops.length; o += part.ops[i++].length) at.push(o);
  for (let i = 0; i < part.ops.length; i += 8) {
    const batch = part.ops.slice(i, i + 8);
    if (readInto) {
      await Promise.all(batch.map((op, j) => readInto.call(source, op.newOffset, payload.subarray(at[i + j], at[i + j] + op.length))));
    } else {
      const pieces = await Promise.all(batch.map((op) => source.read(op.newOffset, op.length)));
      pieces.forEach((p, j) => payload.set(p, at[i + j]));
    }
  }
  let deflated = false;
  let body: Uint8Array = payload;
  if (payload.length >= MIN_DEFLATE) {
    const sample = await deflateRaw(payload.subarray(0, SAMPLE));
    if (sample.length < 0.9 * Math.min(SAMPLE, payload.length)) {
      const z = await deflateRaw(payload);
      if (z.length < payload.length) [body, deflated] = [z, true];
    }
  }
  const encoded = encodePart({ part: part.part, ops: part.ops, literalBytes: part.literalBytes, deflated, payload: body }, { crc32: (b) => k.crc32(b), into: deflated ? undefined : whole });
  if (deflated) buffers.give(whole);
  return encoded;
}
