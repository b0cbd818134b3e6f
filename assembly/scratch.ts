// The scratch region: where JavaScript puts inputs and reads outputs.
//
// Kernels never allocate on a heap (the module is built with `--runtime stub`);
// their tables and state live in static data below __heap_base, and everything
// per call lives in this one region starting at __heap_base. The wrapper asks
// for the size it needs before each call, so memory grows with the largest
// call, which the SDK bounds by its segment size, never by file size.

/** Ensures `size` bytes of scratch exist and returns their address (16-byte aligned). */
export function scratch(size: usize): usize {
  const base = (__heap_base + 15) & ~(<usize>15);
  const need = base + size;
  const have = (<usize>memory.size()) << 16;
  if (need > have) {
    const pages = <i32>((need - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) unreachable();
  }
  return base;
}
