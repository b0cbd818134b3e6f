// The version's chunks grouped by content: chunks with the same length and
// digest prefix form one class, so a chunk that repeats (a run of zeros in a
// VM image, a preallocated file, a table of equal pages) is found, placed and
// fetched once per class, and every chunk of the class follows from it. Each
// lookup and each step of the build is O(1) whatever repeats: a pull is
// linear in the chunk count. Typed arrays only, ~24 bytes a chunk.
import { WIRE_LIMITS } from '../../core/base/limits.js';
import type { Kernels } from '../../core/kernels/api.js';
import type { ShortManifest } from '../../core/protocol/manifest.js';

/**
 * Whether `digest` (from `from`) starts with the `n` bytes of `prefixes` at
 * `at` (a short manifest's digest prefixes, or block digests).
 */
export function hasPrefix(digest: Uint8Array, prefixes: Uint8Array, at: number, n: number, from = 0): boolean {
  for (let j = 0; j < n; j++) if (digest[from + j] !== prefixes[at + j]) return false;
  return true;
}

/**
 * A seed per process for the table's hash: a server cannot choose digest
 * prefixes that pile into one slot of a table it cannot predict.
 */
const SEED = (Math.random() * 0x1_0000_0000) >>> 0;

export class DigestIndex {
  /** Class of each chunk. */
  readonly classOf: Int32Array;
  /** First chunk (in file order) of each class (indexed up to `classes`). */
  readonly first: Int32Array;
  /** The next chunk of the same class after chunk i, or -1. */
  readonly next: Int32Array;
  /** Chunks in each class (indexed up to `classes`). */
  readonly count: Int32Array;
  /** How many classes there are. */
  readonly classes: number;
  private readonly slots: Int32Array; // class + 1 per slot, 0 empty; open addressing, linear probing
  private readonly n: number; // digest bytes per chunk

  constructor(private readonly m: Pick<ShortManifest, 'lengths' | 'digestBytes' | 'digests'>) {
    const chunks = m.lengths.length;
    this.n = m.digestBytes;
    this.classOf = new Int32Array(chunks);
    this.next = new Int32Array(chunks).fill(-1);
    this.first = new Int32Array(chunks);
    this.count = new Int32Array(chunks);
    const last = new Int32Array(chunks);
    let size = 16;
    while (size < 2 * chunks) size *= 2;
    this.slots = new Int32Array(size);
    let classes = 0;
    for (let i = 0; i < chunks; i++) {
      const slot = this.find(m.digests, this.n * i, m.lengths[i]);
      let c = this.slots[slot] - 1;
      if (c < 0) {
        c = classes++;
        this.slots[slot] = c + 1;
        this.first[c] = i;
      } else this.next[last[c]] = i;
      last[c] = i;
      this.count[c]++;
      this.classOf[i] = c;
    }
    this.classes = classes;
  }

  /** The class of the chunk with this digest (its first digestBytes count) and length, or -1. */
  lookup(digest: Uint8Array, length: number): number {
    return this.slots[this.find(digest, 0, length)] - 1;
  }

  /** The chunks of class `c`, in file order. */
  *members(c: number): Generator<number> {
    for (let i = this.first[c]; i >= 0; i = this.next[i]) yield i;
  }

  /** The slot holding the class of (digest at `at`, length), or the empty slot where it would go. */
  private find(digest: Uint8Array, at: number, length: number): number {
    const mask = this.slots.length - 1;
    let h = Math.imul(SEED ^ length, 0x9e3779b1);
    for (let j = 0; j < this.n; j++) h = Math.imul(h ^ digest[at + j], 0x85ebca6b) ^ (h >>> 13);
    h ^= h >>> 16;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const c = this.slots[slot] - 1;
      if (c < 0) return slot;
      const i = this.first[c];
      if (this.m.lengths[i] === length && hasPrefix(digest, this.m.digests, this.n * i, this.n, at)) return slot;
    }
  }
}

/**
 * The classes of the version's all-zero chunks, with their digest. A run of
 * zeros is cut into chunks of the chunking's largest size (CDC: the Gear hash
 * of zeros never meets a mask; fixed: the block), so only that length and the
 * last chunk's are tried: two BLAKE3 calls, however large the file.
 */
export function zeroChunkClasses(k: Kernels, m: ShortManifest, index: DigestIndex): Array<{ c: number; digest: Uint8Array }> {
  const n = m.lengths.length;
  if (n === 0) return [];
  const largest = m.chunking.kind === 'fixed' ? m.chunking.block : m.chunking.max;
  const found: Array<{ c: number; digest: Uint8Array }> = [];
  for (const length of new Set([largest, m.lengths[n - 1]])) {
    if (length < 1 || length > WIRE_LIMITS.maxChunkLength) continue;
    const digest = k.blake3(new Uint8Array(length));
    const c = index.lookup(digest, length);
    if (c >= 0) found.push({ c, digest });
  }
  return found;
}
