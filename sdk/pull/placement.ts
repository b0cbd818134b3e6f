// A placement on the pool's threads: while they hash the local copy, they
// write the chunks the version wants into the output themselves (thread-api.ts).
import type { ShortManifest } from '../../core/protocol/manifest.js';
import type { WorkerPool } from '../pool/pool.js';
import type { Placed, ThreadApi } from '../pool/thread-api.js';

let placements = 0;

/** Sets a placement of `m`'s chunks into `path` on every thread of `pool`; `stop` drops it. */
export async function startPlacement(pool: WorkerPool<ThreadApi>, path: string, m: ShortManifest, skip: Int32Array, onPlaced: (p: Placed) => void) {
  const id = ++placements;
  const manifest = { lengths: m.lengths, digestBytes: m.digestBytes, digests: m.digests };
  await pool.all((api) => api.setPlacement(id, { path, manifest, skip }));
  return { id, onPlaced, stop: () => pool.all((api) => api.setPlacement(id, null)).then(() => undefined) };
}

/** A placement started. */
export type Placement = Awaited<ReturnType<typeof startPlacement>>;
