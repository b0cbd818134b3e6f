// BLAKE3 hash mode, 32-byte digests: one-shot, incremental, and many inputs
// at once (blake3Chunks). This file decides what to hash and in which order;
// the compression runs in blake3-simd.ts (4 lanes per v128) or, in the scalar
// build, blake3-scalar.ts, through the lane descriptors of blake3-lanes.ts.
//
// Work is queued 4 jobs at a time from anywhere: chunks of one large input,
// chunks of different small inputs, parents of one or many trees. Trees are
// reduced level by level (pair neighbours, carry an odd last node up), which
// gives BLAKE3's left-full tree, so a level's parents are batched too.
import { runBlocks4, runChunks4 } from './blake3-simd';
import { compress, runBlocksScalar, runChunksScalar, setIV } from './blake3-scalar';
import { CHUNK_END, CHUNK_LANES, CHUNK_START, JOB_LANES, LANE_STRIDE, PARENT, ROOT, SINK } from './blake3-lanes';
import { scratch } from './scratch';

const CHUNK: usize = 1024;

// ---- batch queues ----

let chunksQueued = 0;
let jobsQueued = 0;

/** Queues a full 1024-byte non-root chunk; its chaining value goes to `out`. */
function queueChunk(ptr: usize, ctr: u64, out: usize): void {
  const d = CHUNK_LANES + <usize>chunksQueued * LANE_STRIDE;
  store<u32>(d, <u32>ptr, 0);
  store<u64>(d, ctr, 16);
  store<u32>(d, <u32>out, 36);
  if (++chunksQueued == 4) {
    if (ASC_FEATURE_SIMD) runChunks4(CHUNK_LANES);
    else runChunksScalar(CHUNK_LANES, 4);
    chunksQueued = 0;
  }
}

function flushChunks(): void {
  const n = chunksQueued;
  if (n == 0) return;
  if (ASC_FEATURE_SIMD) {
    // Unused lanes rehash lane 0's chunk into the sink.
    for (let i = n; i < 4; i++) {
      const d = CHUNK_LANES + <usize>i * LANE_STRIDE;
      memory.copy(d, CHUNK_LANES, 40);
      store<u32>(d, <u32>SINK, 36);
    }
    runChunks4(CHUNK_LANES);
  } else {
    runChunksScalar(CHUNK_LANES, n);
  }
  chunksQueued = 0;
}

/**
 * Queues a job of `len` bytes (0..1024) at `ptr` starting from the IV: a
 * chunk (startF = CHUNK_START, endF = CHUNK_END [| ROOT]) or a parent
 * (len 64, allF = PARENT, endF = 0 or ROOT). A partial last block is copied,
 * zero-padded, into the descriptor.
 */
function queueJob(ptr: usize, len: usize, ctr: u64, startF: u32, endF: u32, allF: u32, out: usize): void {
  const d = JOB_LANES + <usize>jobsQueued * LANE_STRIDE;
  const n: usize = len == 0 ? 1 : (len + 63) >> 6;
  const lastLen = len - ((n - 1) << 6);
  let lastPtr = ptr + ((n - 1) << 6);
  if (lastLen < 64) {
    memory.copy(d + 64, lastPtr, lastLen);
    memory.fill(d + 64 + lastLen, 0, 64 - lastLen);
    lastPtr = d + 64;
  }
  store<u32>(d, <u32>ptr, 0);
  store<u32>(d, <u32>lastPtr, 4);
  store<u32>(d, <u32>n, 8);
  store<u32>(d, <u32>lastLen, 12);
  store<u64>(d, ctr, 16);
  store<u32>(d, startF, 24);
  store<u32>(d, endF, 28);
  store<u32>(d, allF, 32);
  store<u32>(d, <u32>out, 36);
  if (++jobsQueued == 4) {
    if (ASC_FEATURE_SIMD) runBlocks4(JOB_LANES);
    else runBlocksScalar(JOB_LANES, 4);
    jobsQueued = 0;
  }
}

function flushJobs(): void {
  const n = jobsQueued;
  if (n == 0) return;
  if (ASC_FEATURE_SIMD) {
    // Unused lanes: one-block jobs on their own (stale or zero) pad, into the sink.
    for (let i = n; i < 4; i++) {
      const d = JOB_LANES + <usize>i * LANE_STRIDE;
      store<u32>(d, <u32>(d + 64), 0);
      store<u32>(d, <u32>(d + 64), 4);
      store<u32>(d, 1, 8);
      store<u32>(d, 64, 12);
      store<u32>(d, <u32>SINK, 36);
    }
    runBlocks4(JOB_LANES);
  } else {
    runBlocksScalar(JOB_LANES, n);
  }
  jobsQueued = 0;
}

// ---- trees ----
// A tree descriptor (16 bytes): base (its nodes' chaining values, 32 bytes
// each, in order), m (how many), out (where the top goes), root (1 when the
// top is the root of the whole hash).

/** Reduces every tree with m >= 2 to its top, batching each level's parents across all trees. */
function reduceTrees(trees: usize, count: usize): void {
  const end = trees + (count << 4);
  while (true) {
    let any = false;
    for (let t = trees; t < end; t += 16) {
      const m = <usize>load<u32>(t, 4);
      if (m < 2) continue;
      any = true;
      const base = <usize>load<u32>(t, 0);
      if (m == 2) {
        queueJob(base, 64, 0, 0, load<u32>(t, 12) ? ROOT : 0, PARENT, load<u32>(t, 8));
      } else {
        // Parent k reads nodes 2k, 2k+1 and writes node k: never a node a later parent still needs.
        for (let k: usize = 0; k < m >> 1; k++) queueJob(base + (k << 6), 64, 0, 0, 0, PARENT, base + (k << 5));
      }
    }
    if (!any) return;
    flushJobs();
    for (let t = trees; t < end; t += 16) {
      const m = <usize>load<u32>(t, 4);
      if (m < 2) continue;
      if (m & 1) {
        const base = <usize>load<u32>(t, 0);
        memory.copy(base + ((m >> 1) << 5), base + ((m - 1) << 5), 32);
      }
      store<u32>(t, <u32>((m + 1) >> 1), 4);
    }
  }
}

const TREE1 = memory.data(16, 16);

/** Reduces one tree of m >= 1 nodes at `base` into `out`. */
function reduceTree(base: usize, m: usize, out: usize, root: bool): void {
  if (m == 1) {
    memory.copy(out, base, 32);
    return;
  }
  store<u32>(TREE1, <u32>base, 0);
  store<u32>(TREE1, <u32>m, 4);
  store<u32>(TREE1, <u32>out, 8);
  store<u32>(TREE1, root ? 1 : 0, 12);
  reduceTrees(TREE1, 1);
}

// ---- incremental state ----
// The last chunk seen (1..1024 bytes) is held back until more input arrives,
// since only then is it known not to be the root. Whole chunks before it are
// hashed 4 at a time into `pending`; every aligned group of GROUP chunks is
// reduced (its parents 4 at a time) into one subtree and pushed on the stack,
// whose entries are merged like a binary counter. Holding the last chunk back
// means no merge in update() can be the root.

const GROUP: usize = 128; // chunks per subtree = 128 KiB, the wrapper's piece size
const SLICE: usize = 128; // chunks hashed per pass, so pending < GROUP + SLICE
const MAX_DEPTH: usize = 54; // 2^54 chunks = 2^64 bytes

const ST_BUF_LEN: usize = 0; // u32: bytes in buf
const ST_STACK_LEN: usize = 4; // u32
const ST_COUNTER: usize = 8; // u64: index of the chunk in buf
const ST_PENDING: usize = 16; // u32: chaining values in pending (chunks just before buf)
const ST_BUF: usize = 32;
const ST_STACK: usize = ST_BUF + CHUNK;
const ST_PEND: usize = ST_STACK + MAX_DEPTH * 32;
const STATE_SIZE: usize = ST_PEND + (GROUP + SLICE) * 32;

/** The incremental hasher the wrapper saves and restores when hashers take turns. */
const STATE = memory.data(<i32>STATE_SIZE, 16);
/** A second state for one-shot hashing, so blake3Hash never disturbs a hasher. */
const STATE_ONE_SHOT = memory.data(<i32>STATE_SIZE, 16);
/** Finalization scratch: the tail tree (pending + last chunk) and one 64-byte parent block. */
const FIN = memory.data(<i32>((GROUP + 1) * 32 + 64), 16);
const FIN_BLOCK = FIN + (GROUP + 1) * 32;
const IV_WORDS = memory.data(32, 16);

function reset(st: usize): void {
  memory.fill(st, 0, ST_BUF);
}

/** Parent of the 32-byte values at left and right (scalar), written to out (may alias either). */
function parent(left: usize, right: usize, out: usize, flags: u32): void {
  memory.copy(FIN_BLOCK, left, 32);
  memory.copy(FIN_BLOCK + 32, right, 32);
  setIV(IV_WORDS);
  compress(IV_WORDS, FIN_BLOCK, 0, 0, 64, PARENT | flags);
  memory.copy(out, IV_WORDS, 32);
}

/** Hashes the held-back chunk in buf and the `nIn` whole chunks at ptr (not the root: more input follows). */
function hashWhole(st: usize, ptr: usize, nIn: usize): void {
  let ctr = load<u64>(st, ST_COUNTER);
  let pending = <usize>load<u32>(st, ST_PENDING);
  const pend = st + ST_PEND;
  let next: isize = -1; // -1: the buffered chunk; then input chunk index
  let left = nIn + 1;
  while (left > 0) {
    const take = min(left, SLICE);
    for (let j: usize = 0; j < take; j++) {
      const src = next < 0 ? st + ST_BUF : ptr + (<usize>next << 10);
      queueChunk(src, ctr + j, pend + ((pending + j) << 5));
      next++;
    }
    flushChunks();
    pending += take;
    ctr += take;
    left -= take;
    if (pending >= GROUP) {
      // Chunks [ctr - pending, +GROUP) form an aligned subtree: reduce and push it.
      // Reduced in place, its top lands in node 0; the chunks after it move to the front.
      reduceTree(pend, GROUP, pend, false);
      push(st, pend, ctr - (pending - GROUP));
      pending -= GROUP;
      memory.copy(pend, pend + (GROUP << 5), pending << 5);
    }
  }
  store<u64>(st, ctr, ST_COUNTER);
  store<u32>(st, <u32>pending, ST_PENDING);
}

/** Pushes the subtree value at cv; `total` = chunks covered so far. Merges like a binary counter. */
function push(st: usize, cv: usize, total: u64): void {
  let len = <usize>load<u32>(st, ST_STACK_LEN);
  const stack = st + ST_STACK;
  memory.copy(stack + (len << 5), cv, 32);
  len++;
  while (<u64>len > popcnt(total)) {
    parent(stack + ((len - 2) << 5), stack + ((len - 1) << 5), stack + ((len - 2) << 5), 0);
    len--;
  }
  store<u32>(st, <u32>len, ST_STACK_LEN);
}

function update(st: usize, ptr: usize, len: usize): void {
  if (len == 0) return;
  let bufLen = <usize>load<u32>(st, ST_BUF_LEN);
  if (bufLen < CHUNK) {
    const take = min(CHUNK - bufLen, len);
    memory.copy(st + ST_BUF + bufLen, ptr, take);
    bufLen += take;
    ptr += take;
    len -= take;
    store<u32>(st, <u32>bufLen, ST_BUF_LEN);
    if (len == 0) return;
  }
  // buf is a whole chunk and more follows: hash it with all whole chunks but the input's last.
  const nIn = (len - 1) >> 10;
  hashWhole(st, ptr, nIn);
  const tail = len - (nIn << 10);
  memory.copy(st + ST_BUF, ptr + (nIn << 10), tail);
  store<u32>(st, <u32>tail, ST_BUF_LEN);
}

/** Writes the digest of the input so far to out; leaves the state as it was. */
function finalize(st: usize, out: usize): void {
  const bufLen = <usize>load<u32>(st, ST_BUF_LEN);
  const ctr = load<u64>(st, ST_COUNTER);
  if (ctr == 0) {
    // One chunk in all: it is the root.
    queueJob(st + ST_BUF, bufLen, 0, CHUNK_START, CHUNK_END | ROOT, 0, out);
    flushJobs();
    return;
  }
  // The tail tree: pending chunks and the last one, an aligned run shorter than GROUP + 1.
  const pending = <usize>load<u32>(st, ST_PENDING);
  const stackLen = <usize>load<u32>(st, ST_STACK_LEN);
  memory.copy(FIN, st + ST_PEND, pending << 5);
  queueJob(st + ST_BUF, bufLen, ctr, CHUNK_START, CHUNK_END, 0, FIN + (pending << 5));
  flushJobs();
  if (stackLen == 0) {
    reduceTree(FIN, pending + 1, out, true);
    return;
  }
  reduceTree(FIN, pending + 1, FIN, false);
  const stack = st + ST_STACK;
  for (let i = <isize>stackLen - 1; i >= 0; i--) {
    parent(stack + (<usize>i << 5), FIN, i == 0 ? out : FIN, i == 0 ? ROOT : 0);
  }
}

// ---- exports ----

/** Resets the incremental hasher held in the module's state area. */
export function blake3Reset(): void {
  reset(STATE);
}

/** Adds `len` bytes at `ptr` to the incremental hasher. */
export function blake3Update(ptr: usize, len: usize): void {
  update(STATE, ptr, len);
}

/** Writes the 32-byte digest of everything given since the last reset to `outPtr`; the state is unchanged. */
export function blake3Finalize(outPtr: usize): void {
  finalize(STATE, outPtr);
}

/** Address of the incremental state, so a wrapper can save and restore it. */
export function blake3StatePtr(): usize {
  return STATE;
}

/** Size in bytes of the incremental state. */
export function blake3StateSize(): usize {
  return STATE_SIZE;
}

/** One-shot digest of `len` bytes at `ptr`, written to `outPtr` (32 bytes). Does not touch the incremental state. */
export function blake3Hash(ptr: usize, len: usize, outPtr: usize): void {
  reset(STATE_ONE_SHOT);
  update(STATE_ONE_SHOT, ptr, len);
  finalize(STATE_ONE_SHOT, outPtr);
}

/**
 * Digests of `count` consecutive inputs at `ptr`: input i is bytes
 * [ends[i-1], ends[i]) (ends: u32 offsets at `endsPtr`, ends[-1] = 0,
 * non-decreasing). Writes count*32 bytes at `outPtr`. Work space (about
 * 16*count + 32*(len/1024 + count) bytes) goes after the last of the three
 * areas; memory grows for it.
 *
 * Phase 1 hashes every full chunk that is not an input's last, 4 at a time
 * across inputs; phase 2 the last chunks, sorted by block count so lanes of
 * a batch have about the same length; phase 3 the parents, level by level
 * across all inputs.
 */
export function blake3Chunks(ptr: usize, endsPtr: usize, count: usize, outPtr: usize): void {
  if (count == 0) return;
  const total = <usize>load<u32>(endsPtr + ((count - 1) << 2));
  const trees = (max(ptr + total, max(endsPtr + (count << 2), outPtr + (count << 5))) + 15) & ~(<usize>15);
  const cvs = trees + (count << 4);
  const base = scratch(0);
  scratch(cvs + (((total >> 10) + count) << 5) - base);

  let start: usize = 0;
  let cv = cvs;
  for (let i: usize = 0; i < count; i++) {
    const end = <usize>load<u32>(endsPtr + (i << 2));
    const len = end - start;
    const t = trees + (i << 4);
    store<u32>(t, <u32>(outPtr + (i << 5)), 8);
    store<u32>(t, 1, 12);
    if (len > CHUNK) {
      const q = (len - 1) >> 10;
      for (let c: usize = 0; c < q; c++) queueChunk(ptr + start + (c << 10), c, cv + (c << 5));
      store<u32>(t, <u32>cv, 0);
      store<u32>(t, <u32>(q + 1), 4);
      cv += (q + 1) << 5;
    } else {
      store<u32>(t, 0, 4); // a single chunk: its root is hashed in phase 2
    }
    start = end;
  }
  flushChunks();

  for (let blocks: usize = 1; blocks <= 16; blocks++) {
    start = 0;
    for (let i: usize = 0; i < count; i++) {
      const end = <usize>load<u32>(endsPtr + (i << 2));
      const len = end - start;
      const q = len > CHUNK ? (len - 1) >> 10 : 0;
      const r = len - (q << 10);
      if ((r == 0 ? 1 : (r + 63) >> 6) == blocks) {
        if (q > 0) {
          const t = trees + (i << 4);
          queueJob(ptr + start + (q << 10), r, q, CHUNK_START, CHUNK_END, 0, <usize>load<u32>(t, 0) + (q << 5));
        } else {
          queueJob(ptr + start, r, 0, CHUNK_START, CHUNK_END | ROOT, 0, outPtr + (i << 5));
        }
      }
      start = end;
    }
  }
  flushJobs();

  reduceTrees(trees, count);
}
