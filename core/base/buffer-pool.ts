// Large buffers reused instead of allocated per use. An ArrayBuffer is freed
// only when V8 collects its object, which it does late for a few big ones.
// On the server, 128 parts of 8 MiB (a 1 GiB push) or 257 copies with a
// 1 MiB buffer each left 40-70 MB of dead buffers awaiting GC at its peak,
// and glibc kept the RSS they reached; on the client, dead part bodies were
// a large share of a 1 GiB full upload's peak (docs/benchmarks.md). Used by
// the client's part bodies (part-body.ts), the endpoint's request bodies
// (worker/endpoint.ts) and the fs store's copy buffers. Web APIs only.

/**
 * A free list of buffers, keeping at most `keep` of them.
 * @example const b = buffers.take(n); try { use(b) } finally { buffers.give(b) }
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private readonly ours = new WeakSet<ArrayBuffer>();

  constructor(
    /** Buffers kept when given back (more may be out at once; extra ones are dropped). */
    readonly keep: number,
    /** Bytes of a new buffer at least, and what `take()` with no size asks for. */
    readonly size = 0,
  ) {}

  /** `n` bytes (old contents: the caller overwrites what it uses) of a kept buffer large enough, else of a new one. */
  take(n = this.size): Uint8Array {
    const i = this.free.findIndex((b) => b.byteLength >= n);
    const buf = i >= 0 ? this.free.splice(i, 1)[0] : new ArrayBuffer(Math.max(n, this.size));
    this.ours.add(buf);
    return new Uint8Array(buf, 0, n);
  }

  /** Gives back a view from `take` (any other array, such as a deflated body, is ignored); the caller holds no view of its buffer any more. */
  give(view: Uint8Array): void {
    const buf = view.buffer as ArrayBuffer;
    if (!this.ours.has(buf) || this.free.includes(buf)) return;
    if (this.free.length < this.keep) this.free.push(buf);
    else this.ours.delete(buf);
  }
}
