// A pull's copies from the local copy into a new output, each group of
// chunks read once and checked again as it is read (a copy edited since the
// scan is never written out), and the all-zero chunks written from memory.
import type { Kernels } from '../../core/kernels/api.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';
import type { SyncSource } from '../source.js';
import { checkChunk } from './fetch.js';
import { sourceChanged } from './in-place.js';
import type { PullOutput } from './options.js';
import { COPY_GROUP, copyGroups, spansOf, ZERO } from './plan.js';

/** Copies every chunk `from` says comes from `local`, group by group; answers the bytes copied. */
export async function copyFromLocal(
  k: Kernels,
  local: SyncSource,
  output: PullOutput,
  from: Float64Array,
  m: ShortManifest,
  offsets: Float64Array,
  whole: Uint8Array,
  key: string,
): Promise<number> {
  let copied = 0;
  for (const group of copyGroups(from, m, offsets)) {
    const bytes = await local.read(group.src, group.length);
    if (bytes.length !== group.length) throw sourceChanged(key, group.src);
    for (let i = group.first, at = 0; i < group.end; at += m.lengths[i], i++) {
      if (!checkChunk(k, bytes.subarray(at, at + m.lengths[i]), m, i, whole)) throw sourceChanged(key, group.src + at);
    }
    await output.writeAt(offsets[group.first], bytes);
    copied += group.length;
  }
  return copied;
}

/** All-zero chunks of an output that is not new: written from one zeroed buffer. */
export async function writeZeros(output: PullOutput, from: Float64Array, m: ShortManifest, offsets: Float64Array): Promise<void> {
  const buffer = new Uint8Array(COPY_GROUP);
  for (const span of spansOf(from, ZERO, 0, m.lengths.length, m, offsets, COPY_GROUP)) {
    for (let at = 0; at < span.length; at += buffer.length) {
      await output.writeAt(span.offset + at, buffer.subarray(0, Math.min(buffer.length, span.length - at)));
    }
  }
}
