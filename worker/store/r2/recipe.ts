// A version on R2 as a recipe: the list of extents that spell its bytes, in
// order, each a run of an immutable R2 object (literal bytes a push uploaded,
// a compacted object, or a flat object of the older layout) or zeros. A
// commit writes the recipe of its staging area instead of a copy of the file,
// so a delta costs what changed (the layout of Hugging Face Xet's file
// reconstructions and casync's chunk indexes). Stored as JSON at
// "r/<version hex>/<generation>"; a compaction writes the next generation.
import { StoreError } from '../store.js';
import type { Extent } from './db.js';

/** A recipe as stored: object names once, extents as [length, object index or -1 for zeros, offset in the object]. */
interface RecipeJson {
  size: number;
  objects: string[];
  extents: Array<[number, number, number]>;
}

/** A decoded recipe: ascending, gap-free extents covering [0, size); `obj` '' is zeros. */
export interface Recipe {
  size: number;
  extents: Extent[];
}

/** The R2 name of a version's recipe (its hex is the version id's) at a generation. */
export const recipeObject = (versionHex: string, gen: number) => `r/${versionHex}/${gen}`;

/**
 * The recipe of a staging area of `size` bytes from its ascending extents:
 * gaps become zero extents, and neighbours that continue each other in one
 * object merge (a part's ops land as one run of its piece).
 */
export function recipeOf(extents: readonly Extent[], size: number): Recipe {
  const out: Extent[] = [];
  const push = (e: Extent) => {
    const last = out[out.length - 1];
    if (last && last.obj === e.obj && (e.obj === '' || last.off + last.len === e.off)) last.len += e.len;
    else out.push({ ...e });
  };
  let at = 0;
  for (const e of extents) {
    const a = Math.max(at, e.dst);
    const b = Math.min(size, e.dst + e.len);
    if (b <= a) continue;
    if (a > at) push({ dst: at, len: a - at, obj: '', off: 0 });
    push({ dst: a, len: b - a, obj: e.obj, off: e.off + (a - e.dst) });
    at = b;
  }
  if (size > at) push({ dst: at, len: size - at, obj: '', off: 0 });
  return { size, extents: out };
}

/** The recipe of a flat object (the older layout): one extent. */
export function flatRecipe(obj: string, size: number): Recipe {
  return { size, extents: size > 0 ? [{ dst: 0, len: size, obj, off: 0 }] : [] };
}

export function encodeRecipe(r: Recipe): Uint8Array {
  const objects: string[] = [];
  const index = new Map<string, number>();
  const extents = r.extents.map((e): [number, number, number] => {
    if (e.obj === '') return [e.len, -1, 0];
    let i = index.get(e.obj);
    if (i === undefined) {
      i = objects.push(e.obj) - 1;
      index.set(e.obj, i);
    }
    return [e.len, i, e.off];
  });
  return new TextEncoder().encode(JSON.stringify({ size: r.size, objects, extents } satisfies RecipeJson));
}

/** Decodes a stored recipe; IO if it does not add up (a damaged object must not be served as bytes). */
export function decodeRecipe(bytes: Uint8Array, name: string): Recipe {
  const bad = (why: string) => new StoreError('IO', `recipe ${name} is damaged: ${why}`);
  let j: RecipeJson;
  try {
    j = JSON.parse(new TextDecoder().decode(bytes)) as RecipeJson;
  } catch {
    throw bad('not JSON');
  }
  if (!Number.isSafeInteger(j?.size) || !Array.isArray(j.objects) || !Array.isArray(j.extents)) throw bad('missing fields');
  const extents: Extent[] = [];
  let at = 0;
  for (const [len, i, off] of j.extents) {
    if (!(len > 0) || !Number.isSafeInteger(len) || !Number.isSafeInteger(off) || off < 0) throw bad(`extent at ${at}`);
    const obj = i === -1 ? '' : j.objects[i];
    if (typeof obj !== 'string') throw bad(`object index ${i}`);
    extents.push({ dst: at, len, obj, off });
    at += len;
  }
  if (at !== j.size) throw bad(`extents cover ${at} bytes, the size is ${j.size}`);
  return { size: j.size, extents };
}

/** Index of the extent holding byte `at` (binary search; extents are ascending and gap-free). */
function extentAt(r: Recipe, at: number): number {
  let lo = 0;
  let hi = r.extents.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (r.extents[mid].dst <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The extents of `[start, end)`, trimmed to it, with `dst` moved by `shift` (a copy to another offset). */
export function slice(r: Recipe, start: number, end: number, shift = 0): Extent[] {
  const out: Extent[] = [];
  if (end <= start) return out;
  for (let i = extentAt(r, start); i < r.extents.length && r.extents[i].dst < end; i++) {
    const e = r.extents[i];
    const a = Math.max(start, e.dst);
    const b = Math.min(end, e.dst + e.len);
    out.push({ dst: a + shift, len: b - a, obj: e.obj, off: e.obj === '' ? 0 : e.off + (a - e.dst) });
  }
  return out;
}

/** The distinct objects a recipe reads. */
export function objectsOf(r: Recipe): string[] {
  return [...new Set(r.extents.filter((e) => e.obj !== '').map((e) => e.obj))];
}
