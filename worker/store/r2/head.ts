// A key's head record on R2: the empty object "h/<key>" whose custom
// metadata is the key's current version. Putting it is the one atomic switch
// of a commit (and of a compaction's next recipe); list() reads it.
import type { Metadata } from '../../../core/protocol/metadata.js';
import type { VersionInfo } from '../store.js';

/**
 * A head record's custom metadata (R2 metadata values are strings): `recipe`
 * names the version's recipe; a version of the older layout has `data`, its
 * one flat object, instead.
 */
export type Head = Record<'id' | 'size' | 'time', string> & {
  recipe?: string;
  data?: string;
  root?: string;
  incomplete?: string;
  basis?: string;
  /** The version's metadata as JSON (at most 1,024 bytes: the head's fields stay inside R2's 2 KiB). */
  meta?: string;
};

/** The R2 name a head's bytes are read through: its recipe, or its flat object. */
export const layoutOf = (meta: Head): string => meta.recipe ?? meta.data!;

/** The head record's object name. */
export const headKey = (key: string) => `h/${key}`;

/** The VersionInfo a head describes. */
export function toInfo(m: Head): VersionInfo {
  return {
    id: m.id,
    size: Number(m.size),
    time: Number(m.time),
    ...(m.root ? { root: m.root } : {}),
    ...(m.incomplete ? { incomplete: true } : {}),
    ...(m.meta ? { metadata: JSON.parse(m.meta) as Metadata } : {}),
  };
}
