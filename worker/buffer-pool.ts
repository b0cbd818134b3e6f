// Large buffers reused instead of allocated per request. An ArrayBuffer is
// freed only when V8 collects its object, which it does late for a few big
// ones: 128 parts of 8 MiB (a 1 GiB push) or 257 copies with a 1 MiB buffer
// each left 40-70 MB of dead buffers awaiting GC at the server's peak, and
// glibc kept the RSS they reached. Web APIs only (shared with workerd).

/**
 * A free list of buffers of one size, keeping at most `keep` of them.
 * @example const b = pool.take(); try { use(b) } finally { pool.give(b) }
 */
export class BufferPool {
  private readonly free: Uint8Array[] = [];

  constructor(
    /** Bytes per buffer. */
    readonly size: number,
    /** Buffers kept when given back (more may be out at once; extra ones are dropped). */
    readonly keep: number,
  ) {}

  /** A buffer of `size` bytes (old contents: the caller overwrites what it uses). */
  take(): Uint8Array {
    return this.free.pop() ?? new Uint8Array(this.size);
  }

  /** Gives a buffer from `take` back; the caller must hold no view of it any more. */
  give(buf: Uint8Array): void {
    if (buf.byteLength === this.size && buf.byteOffset === 0 && this.free.length < this.keep) this.free.push(new Uint8Array(buf.buffer, 0, this.size));
  }
}
