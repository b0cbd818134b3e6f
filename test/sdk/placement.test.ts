// A pull's placement (sdk/pool/thread-api.ts), run in this thread: the
// chunks a segment holds that the version wants go into the output from
// kernel memory, a run of them that follows each other in the segment and in
// the output as one write (one per segment for an unchanged file, not one
// per 8 KiB chunk), and a chunk that repeats is written
// to every place the version wants it once, at its first find, not again at
// each of its copies in the segment (k x k writes for k repeats).
import { releaseProxy } from 'comlink';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileKernels, init, type Kernels, simdSupported } from '../../core/kernels/index.js';
import { type Placed, setPathWriter, threadApi } from '../../sdk/pool/thread-api.js';
import { randomBytes } from '../support/bytes.js';

let k: Kernels;
const writes: Array<{ offset: number; length: number }> = [];
let output: Uint8Array;

beforeAll(async () => {
  k = await init();
  const simd = simdSupported();
  await threadApi.init({ module: await compileKernels(simd), simd });
  setPathWriter(() => ({
    write(bytes, offset) {
      writes.push({ offset, length: bytes.length });
      output.set(bytes, offset);
    },
    close() {},
  }));
});

/** The manifest of `bytes` cut into fixed blocks of `block` bytes, whole digests. */
function blockManifest(bytes: Uint8Array, block: number) {
  const n = Math.ceil(bytes.length / block);
  const lengths = new Uint32Array(n);
  const digests = new Uint8Array(32 * n);
  for (let i = 0; i < n; i++) {
    const b = bytes.subarray(i * block, (i + 1) * block);
    lengths[i] = b.length;
    digests.set(k.blake3(b), 32 * i);
  }
  return { lengths, digestBytes: 32, digests };
}

describe('placement', () => {
  it('should write the chunks the version wants in one write per run, every byte where the version has it', async () => {
    const block = 4096;
    const local = randomBytes(256 * block, 1);
    const version = local.slice();
    version.set(randomBytes(block, 2), 100 * block); // block 100 is new: runs 0..99 and 101..255 stay
    output = new Uint8Array(version.length);
    writes.length = 0;
    threadApi.setPlacement(1, { path: 'out', manifest: blockManifest(version, block) });
    const placed: Placed[] = [];
    const sink = Object.assign((_: number, r: { placed?: Placed }) => void (r.placed && placed.push(r.placed)), { [releaseProxy]: () => {} });
    // Two segments of 128 blocks: each is one run but for block 100.
    // biome-ignore lint/suspicious/noExplicitAny: the sink stands in for the comlink proxy a pool passes
    await threadApi.chunkRunAt({ blob: new Blob([local as Uint8Array<ArrayBuffer>]) }, 0, [128 * block, 128 * block], { kind: 'fixed', block }, sink as any, 1);
    threadApi.setPlacement(1, null);

    expect(writes).toEqual([
      { offset: 0, length: 100 * block },
      { offset: 101 * block, length: 27 * block },
      { offset: 128 * block, length: 128 * block },
    ]);
    expect(placed.flatMap((p) => [...p.indices])).toEqual([...Array(256).keys()].filter((i) => i !== 100));
    const expected = version.slice();
    expected.fill(0, 100 * block, 101 * block); // not placed: the pull fetches it
    expect(Buffer.from(output).equals(Buffer.from(expected))).toBe(true);
  });

  it('should write a chunk that repeats once to each place the version wants it, not once per copy found', async () => {
    const block = 4096;
    const pattern = randomBytes(block, 3);
    const local = new Uint8Array(128 * block);
    for (let i = 0; i < 128; i++) local.set(pattern, i * block); // 128 copies of one block
    const version = new Uint8Array(256 * block);
    for (let i = 0; i < 256; i++) version.set(pattern, i * block); // wanted at 256 places
    output = new Uint8Array(version.length);
    writes.length = 0;
    threadApi.setPlacement(2, { path: 'out', manifest: blockManifest(version, block) });
    const placed: Placed[] = [];
    const sink = Object.assign((_: number, r: { placed?: Placed }) => void (r.placed && placed.push(r.placed)), { [releaseProxy]: () => {} });
    // biome-ignore lint/suspicious/noExplicitAny: the sink stands in for the comlink proxy a pool passes
    await threadApi.chunkRunAt({ blob: new Blob([local as Uint8Array<ArrayBuffer>]) }, 0, [64 * block, 64 * block], { kind: 'fixed', block }, sink as any, 2);
    threadApi.setPlacement(2, null);

    expect(writes.length).toBe(256); // one per wanted place (was 128 x 256)
    expect(placed.flatMap((p) => [...p.indices]).sort((a, b) => a - b)).toEqual([...Array(256).keys()]);
    expect(Buffer.from(output).equals(Buffer.from(version))).toBe(true);
  });

  it('should place nothing of the classes it is told to skip (the all-zero chunks a pull leaves as holes)', async () => {
    const block = 4096;
    const local = new Uint8Array(64 * block); // zeros
    const version = new Uint8Array(64 * block);
    output = new Uint8Array(version.length);
    writes.length = 0;
    threadApi.setPlacement(3, { path: 'out', manifest: blockManifest(version, block), skip: Int32Array.of(0) });
    const placed: Placed[] = [];
    const sink = Object.assign((_: number, r: { placed?: Placed }) => void (r.placed && placed.push(r.placed)), { [releaseProxy]: () => {} });
    // biome-ignore lint/suspicious/noExplicitAny: the sink stands in for the comlink proxy a pool passes
    await threadApi.chunkRunAt({ blob: new Blob([local as Uint8Array<ArrayBuffer>]) }, 0, [64 * block], { kind: 'fixed', block }, sink as any, 3);
    threadApi.setPlacement(3, null);
    expect(writes.length).toBe(0);
    expect(placed.length).toBe(0);
  });
});
