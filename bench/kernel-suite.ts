// The kernels benchmark, runtime-neutral: Node (bench/kernels.ts) and a module
// Web Worker in Chromium (bench/kernels-browser.ts) run this same code on the
// same kind of input, so their tables compare directly.
//
// Method: one random buffer (256 MiB by default); every contender runs on it in
// the same process, alternating, after WARMUP untimed runs (V8 compiles wasm
// with Liftoff first and tiers up to TurboFan while it runs); the median of
// RUNS timed runs is reported. MB/s = 10^6 bytes per second.
//
// Our kernels run twice: on the JavaScript array (copied into wasm memory
// piece by piece, "deltaflare (SIMD)") and on the same bytes placed once in
// kernel memory with allocInput ("deltaflare (SIMD, in kernel memory)"), as a
// file reader filling that region would give them. The peers use their own
// normal APIs on the JavaScript array.
import { hash as jitHash } from 'blake3-jit';
import { createBLAKE3, createCRC32 } from 'hash-wasm';
import { init, type Kernels } from '../core/kernels/index.js';

export interface SuiteOptions {
  /**
   * The clock, ms (default wall time, performance.now). Node's bench can pass
   * process CPU time: on a shared machine it counts only this thread's work.
   */
  clock?: () => number;
  /** Input size in bytes (default 256 MiB). */
  size?: number;
  runs?: number;
  warmup?: number;
  /** Extra CRC32 peers only some runtimes have, e.g. node's zlib.crc32. */
  crcPeers?: Record<string, (bytes: Uint8Array) => number>;
  log?: (line: string) => void;
}

export interface Measurement {
  /** What was measured, e.g. "BLAKE3 one input". */
  task: string;
  /** Who did it, e.g. "deltaflare (SIMD)" or "blake3-jit". */
  who: string;
  mbPerSecond: number;
}

/** Fills `bytes` with pseudo-random data (xorshift128+, seeded: the same input on every run). */
export function randomBytes(size: number, seed = 0x9e3779b9): Uint8Array {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let a = seed | 1,
    b = 0x6a09e667,
    c = 0xbb67ae85,
    d = 0x3c6ef372;
  for (let i = 0; i < words.length; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = (d ^ (d >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    words[i] = d;
  }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i * 31;
  return bytes;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1];

/** Runs every contender of every task and returns MB/s medians. */
export async function runKernelSuite(options: SuiteOptions = {}): Promise<Measurement[]> {
  const size = options.size ?? 256 << 20;
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 2;
  const log = options.log ?? (() => {});
  const clock = options.clock ?? (() => performance.now());
  const data = randomBytes(size);
  const simd = await init({ simd: true });
  const scalar = await init({ simd: false });
  const hwBlake3 = await createBLAKE3();
  const hwCrc32 = await createCRC32();

  // Chunk ends for the many-short-inputs tasks: FastCDC at avg 8 KiB (2..64 KiB).
  const ends = Uint32Array.from(chunkEnds(simd, data));
  const cdc = { min: 2048, avg: 8192, max: 65536, level: 1 };

  type Task = [task: string, who: string, run: () => unknown];
  const tasks: Task[] = [];
  const inKernel = (k: Kernels): Uint8Array => {
    const view = k.allocInput(size);
    view.set(data);
    return view;
  };
  const contenders = [
    ['deltaflare (SIMD, in kernel memory)', simd, inKernel(simd)],
    ['deltaflare (SIMD)', simd, data],
    ['deltaflare (scalar, in kernel memory)', scalar, inKernel(scalar)],
    ['deltaflare (scalar)', scalar, data],
  ] as const;
  for (const [who, k, input] of contenders) {
    tasks.push(['BLAKE3 one input', who, () => k.blake3(input)]);
    tasks.push([`BLAKE3 ${ends.length} chunks (~8 KiB)`, who, () => k.blake3Chunks(input, ends)]);
    tasks.push(['CRC32', who, () => k.crc32(input)]);
    tasks.push(['FastCDC-2020 cut points', who, () => k.cutPoints(input, cdc)]);
    tasks.push(['FastCDC + CRC32 (fused)', who, () => k.chunk(input, cdc)]);
  }
  tasks.push(['BLAKE3 one input', 'blake3-jit', () => jitHash(data)]);
  tasks.push(['BLAKE3 one input', 'hash-wasm', () => hwBlake3.init().update(data).digest('binary')]);
  tasks.push([
    `BLAKE3 ${ends.length} chunks (~8 KiB)`,
    'blake3-jit',
    () => {
      for (let i = 0, start = 0; i < ends.length; start = ends[i++]) jitHash(data.subarray(start, ends[i]));
    },
  ]);
  tasks.push(['CRC32', 'hash-wasm', () => hwCrc32.init().update(data).digest('binary')]);
  for (const [who, fn] of Object.entries(options.crcPeers ?? {})) {
    tasks.push(['CRC32', who, () => fn(data)]);
  }

  const times = new Map<Task, number[]>(tasks.map((t) => [t, []]));
  for (let round = 0; round < warmup + runs; round++) {
    for (const task of tasks) {
      const t0 = clock();
      task[2]();
      const ms = clock() - t0;
      if (round >= warmup) times.get(task)!.push(ms);
    }
    log(`round ${round + 1}/${warmup + runs}${round < warmup ? ' (warm-up)' : ''}`);
  }
  return tasks.map((t) => ({ task: t[0], who: t[1], mbPerSecond: size / 1e3 / median(times.get(t)!) }));
}

function chunkEnds(k: Kernels, data: Uint8Array): number[] {
  return k.chunk(data, { min: 2048, avg: 8192, max: 65536, level: 1 }).map((c) => c.offset + c.length);
}
