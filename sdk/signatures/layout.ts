// Where the signature pass cuts a file: segments (one thread task each)
// grouped into runs (what one thread reads as one stream).
/**
 * The first segment of each worker's first run is at most this long, so the
 * first batch is ready sooner and each worker's first kernel call, which
 * runs in V8's baseline (Liftoff) code to its end because wasm has no
 * on-stack replacement, is short; later calls run the optimised code.
 */
const RAMP_SEGMENT = 1 << 20;
/**
 * Bytes a worker reads as one run (one read of the source): every Blob read
 * costs Chromium ~10 ms of CPU beyond its bytes (docs/benchmarks.md), so
 * runs are long, but short enough that a file spreads over every worker.
 */
const RUN_BYTES = 64 << 20;

/**
 * Where the pass cuts the file: segments (one worker task's bytes, chunked
 * in one kernel call) grouped into runs (consecutive segments one worker
 * reads as one stream). Runs are RUN_BYTES long at most and at most half a
 * worker's share of the file; the first run of each worker starts with a
 * RAMP_SEGMENT. Every length but the file's last is a multiple of `unit`.
 */
export class Layout {
  /** [offset, length] of each segment, in file order. */
  readonly segments: Array<[number, number]> = [];
  /** [first, end) segment indices of each run, in file order. */
  readonly runs: Array<[number, number]> = [];
  constructor(
    size: number,
    /** The longest segment. */
    readonly segment: number,
    unit: number,
    workers: number,
  ) {
    const whole = (n: number) => Math.max(unit, Math.floor(n / unit) * unit);
    const ramp = whole(Math.min(segment, RAMP_SEGMENT));
    const run = Math.max(segment, Math.min(RUN_BYTES, Math.floor(Math.ceil(size / (2 * workers)) / segment) * segment));
    for (let a = 0; a < size; a += run) {
      const end = Math.min(size, a + run);
      const first = this.segments.length;
      for (let s = a; s < end; ) {
        const length = Math.min(end - s, this.runs.length < workers && s === a && ramp < segment ? ramp : segment);
        this.segments.push([s, length]);
        s += length;
      }
      this.runs.push([first, this.segments.length]);
    }
  }
}
