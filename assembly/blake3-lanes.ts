// BLAKE3 lane descriptors: the batch interface between blake3.ts (which
// decides what to hash) and the backends (blake3-simd.ts hashes 4 lanes at
// once, blake3-scalar.ts one after another).
//
// A lane is one job: a sequence of `n` 64-byte blocks that starts from the IV
// (every node in hash mode does) and ends in one 32-byte chaining value.
// Lanes of one batch are independent: each has its own input, counter, flags,
// block count and final block length, so a batch can mix chunks of different
// inputs, or parents of different trees.
//
//   offset  field     meaning
//   0       ptr       first block
//   4       lastPtr   last block (a zero-padded copy at +64 when it is partial)
//   8       n         blocks, 1..16
//   12      lastLen   bytes in the last block, 0..64
//   16      ctr       u64 counter (chunk index; 0 for parents)
//   24      startF    flags of the first block (CHUNK_START for chunks)
//   28      endF      flags of the last block (CHUNK_END, ROOT)
//   32      allF      flags of every block (PARENT)
//   36      out       where the 32-byte result goes
//   64..127 pad       the zero-padded partial last block

export const CHUNK_START: u32 = 1;
export const CHUNK_END: u32 = 2;
export const PARENT: u32 = 4;
export const ROOT: u32 = 8;

export const LANE_STRIDE: usize = 128;
/** Descriptors of the full-chunk queue (16 blocks, CHUNK_START/CHUNK_END, not root). */
export const CHUNK_LANES = memory.data(4 * <i32>LANE_STRIDE, 16);
/** Descriptors of the general job queue (partial chunks, parents). */
export const JOB_LANES = memory.data(4 * <i32>LANE_STRIDE, 16);
/** Where unused lanes of a batch write their result. */
export const SINK = memory.data(32, 16);
