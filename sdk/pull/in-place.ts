// A pull in place (PullOutput.inPlace): the version's moved runs copied
// within the file itself, in the order of core/protocol/in-place.ts (no copy
// reads bytes an earlier one overwrote), each chunk checked as it is read.
import { DeltaflareError } from '../../core/base/errors.js';
import type { Kernels } from '../../core/kernels/api.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';
import { chunkAt, COPY_GROUP } from './plan.js';
import type { CopyOp } from '../../core/protocol/wire.js';
import { checkChunk } from './fetch.js';
import type { PullOutput } from './options.js';

/** SOURCE_CHANGED: the local copy's bytes at `at` are not what the scan found there. */
export const sourceChanged = (key: string, at: number) =>
  new DeltaflareError('SOURCE_CHANGED', `the local copy of ${key} changed during the pull (at byte ${at}): nothing was replaced; pull again`);

/** Runs the ordered copies within the output (memmove-wise, in chunk-aligned pieces), each chunk checked; answers the bytes copied. */
export async function copyInPlace(
  k: Kernels,
  output: PullOutput,
  place: NonNullable<PullOutput['inPlace']>,
  copies: CopyOp[],
  m: ShortManifest,
  offsets: Float64Array,
  whole: Uint8Array,
  key: string,
): Promise<number> {
  if (m.size > place.oldSize) await place.resize(m.size);
  let copied = 0;
  for (const c of copies) {
    // Pieces of whole chunks, at most COPY_GROUP each; back to front when the destination is after the source.
    const pieces: Array<[number, number]> = [];
    for (let i = chunkAt(offsets, c.newOffset); offsets[i] < c.newOffset + c.length; ) {
      const start = offsets[i];
      while (offsets[i] < c.newOffset + c.length && (offsets[i + 1] - start <= COPY_GROUP || offsets[i] === start)) i++;
      pieces.push([start - c.newOffset, offsets[i] - start]);
    }
    if (c.newOffset > c.oldOffset) pieces.reverse();
    for (const [at, length] of pieces) {
      const bytes = await place.readAt(c.oldOffset + at, length);
      for (let i = chunkAt(offsets, c.newOffset + at), o = 0; o < length; o += m.lengths[i], i++) {
        if (!checkChunk(k, bytes.subarray(o, o + m.lengths[i]), m, i, whole)) throw sourceChanged(key, c.oldOffset + at + o);
      }
      await output.writeAt(c.newOffset + at, bytes);
      copied += length;
    }
  }
  return copied;
}
