// The new file's chunks as the signature pass produces them: lengths, CRCs and
// digests in growable typed arrays (40 bytes per chunk: 5 MiB for a 1 GiB
// file at 8 KiB chunks), plus each chunk's confirmed old offset (-1: literal).

/** Growable columns of chunk facts, appended in file order. */
export class ChunkTable {
  count = 0;
  size = 0;
  lengths = new Uint32Array(1024);
  crcs = new Uint32Array(1024);
  hashes = new Uint8Array(1024 * 32);
  /** Confirmed old offset per chunk, -1 when the chunk is literal. */
  oldOffsets = new Float64Array(1024).fill(-1);

  /** Appends a batch whose first chunk must be chunk `count`. */
  append(batch: { firstIndex: number; lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array }): void {
    if (batch.firstIndex !== this.count) throw new Error(`chunk batch starts at ${batch.firstIndex}, expected ${this.count}`);
    const n = batch.lengths.length;
    this.reserve(this.count + n);
    this.lengths.set(batch.lengths, this.count);
    this.crcs.set(batch.crcs, this.count);
    this.hashes.set(batch.hashes, this.count * 32);
    for (const len of batch.lengths) this.size += len;
    this.count += n;
  }

  /** Views of the first `count` chunks, as the protocol modules take them. */
  view(): { lengths: Uint32Array; crcs: Uint32Array; hashes: Uint8Array; oldOffsets: Float64Array } {
    return {
      lengths: this.lengths.subarray(0, this.count),
      crcs: this.crcs.subarray(0, this.count),
      hashes: this.hashes.subarray(0, this.count * 32),
      oldOffsets: this.oldOffsets.subarray(0, this.count),
    };
  }

  private reserve(n: number): void {
    if (n <= this.lengths.length) return;
    const cap = Math.max(n, this.lengths.length * 2);
    const grow = <T extends Uint32Array | Uint8Array | Float64Array>(a: T, len: number, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(len);
      if (fill !== undefined) b.fill(fill);
      b.set(a);
      return b;
    };
    this.lengths = grow(this.lengths, cap);
    this.crcs = grow(this.crcs, cap);
    this.hashes = grow(this.hashes, cap * 32);
    this.oldOffsets = grow(this.oldOffsets, cap, -1);
  }
}
