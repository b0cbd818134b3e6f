// Ordering copies for an in-place rebuild (Burns & Long, "In-place
// reconstruction of delta compressed files", 1998): the new file is built
// inside the old file's storage, so a copy must read its source before any
// other copy overwrites it.
//
// Conflict graph: an edge A -> B (A runs before B) when B's destination
// overlaps A's source. Destinations are disjoint (they tile the new file), so
// the B of one A are a contiguous range of copies sorted by destination: two
// binary searches, no edge list. Every destination except the file's last is
// at least one chunk long, so the edges number at most newSize / minChunk +
// 2n. Cycles are found as strongly connected components (iterative Tarjan);
// in each, the copy with the fewest bytes becomes a literal and the rest of
// the component is searched again, until no cycle is left. The topological
// order is the reverse of Tarjan's emission order.
//
// A copy whose own source and destination overlap is no conflict: it has
// memmove semantics (as if the source were read whole before writing), and
// Uint8Array.copyWithin does exactly that.
import type { CopyOp } from './wire.js';

/** The result of ordering: copies in execution order, and copies that must become literals. */
export interface InPlaceOrder {
  copies: CopyOp[];
  /** Copies removed to break cycles (fewest bytes in their cycle), sorted by newOffset. */
  converted: CopyOp[];
}

/**
 * Orders copies so that none overwrites a source another copy still needs.
 * O((n + edges) log n) when components are small; a component that needs k
 * removals is searched k + 1 times.
 * @example const { copies, converted } = orderInPlace(plan.copies)
 */
export function orderInPlace(input: readonly CopyOp[]): InPlaceOrder {
  const n = input.length;
  // Nodes are positions in destination order.
  const nodes = [...input].sort((a, b) => a.newOffset - b.newOffset);
  const dstEnd = new Float64Array(n);
  for (let i = 0; i < n; i++) dstEnd[i] = nodes[i].newOffset + nodes[i].length;
  // Neighbours of a: nodes [lo[a], hi[a]) whose destination overlaps a's source.
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let a = 0; a < n; a++) {
    const s = nodes[a].oldOffset;
    const e = s + nodes[a].length;
    lo[a] = lowerBound(n, (k) => dstEnd[k] > s);
    hi[a] = lowerBound(n, (k) => nodes[k].newOffset >= e);
  }
  const alive = new Uint8Array(n).fill(1);
  const tarjan = new Tarjan(n, lo, hi, alive);

  // Break cycles: a worklist of components still to search.
  const work: number[][] = [Array.from({ length: n }, (_, i) => i)];
  while (work.length > 0) {
    const set = work.pop()!;
    for (const scc of tarjan.components(set)) {
      if (scc.length < 2) continue;
      let cheapest = scc[0];
      for (const v of scc) if (nodes[v].length < nodes[cheapest].length || (nodes[v].length === nodes[cheapest].length && v < cheapest)) cheapest = v;
      alive[cheapest] = 0;
      work.push(scc.filter((v) => v !== cheapest));
    }
  }
  const order = tarjan.components(Array.from({ length: n }, (_, i) => i).filter((i) => alive[i]));
  const copies: CopyOp[] = [];
  for (let k = order.length - 1; k >= 0; k--) copies.push(nodes[order[k][0]]);
  const converted = nodes.filter((_, i) => !alive[i]);
  return { copies, converted };
}

/**
 * The first copy, in execution order, that reads bytes an earlier copy has
 * overwritten, or -1 when the order is safe: what an endpoint checks before
 * it rebuilds in place, since a client's order cannot be trusted (a wrong one
 * would store other bytes than the manifest it publishes). A Fenwick tree over
 * the destinations sorted by offset counts those already written inside each
 * copy's source: O(n log n), 4 bytes per copy.
 * @example if (firstOverwrittenRead(plan.copies) >= 0) throw new Error('a copy would read bytes already overwritten')
 */
export function firstOverwrittenRead(copies: readonly CopyOp[]): number {
  const n = copies.length;
  const byDst = Array.from({ length: n }, (_, i) => i).sort((a, b) => copies[a].newOffset - copies[b].newOffset);
  const rank = new Uint32Array(n); // copy -> its position in destination order
  byDst.forEach((c, k) => {
    rank[c] = k;
  });
  const written = new Int32Array(n + 1); // Fenwick tree: 1 at positions written so far
  const before = (k: number) => {
    let sum = 0;
    for (let i = k; i > 0; i -= i & -i) sum += written[i];
    return sum;
  };
  for (let i = 0; i < n; i++) {
    const s = copies[i].oldOffset;
    const e = s + copies[i].length;
    // Destinations are disjoint: those overlapping [s, e) are positions [lo, hi) in destination order.
    const lo = lowerBound(n, (k) => copies[byDst[k]].newOffset + copies[byDst[k]].length > s);
    const hi = lowerBound(n, (k) => copies[byDst[k]].newOffset >= e);
    if (hi > lo && before(hi) - before(lo) > 0) return i; // its own destination is not written yet: memmove is no conflict
    for (let k = rank[i] + 1; k <= n; k += k & -k) written[k]++;
  }
  return -1;
}

/** The first k in [0, n) with pred(k) true, for a predicate that is false then true. */
function lowerBound(n: number, pred: (k: number) => boolean): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Iterative Tarjan SCC over the implicit range graph, restricted to a node set (explicit stacks: 10^5 nodes would overflow recursion). */
class Tarjan {
  private readonly index: Int32Array;
  private readonly low: Int32Array;
  private readonly onStack: Uint8Array;
  private readonly member: Uint32Array;
  private stamp = 0;

  constructor(
    n: number,
    private readonly lo: Uint32Array,
    private readonly hi: Uint32Array,
    private readonly alive: Uint8Array,
  ) {
    this.index = new Int32Array(n);
    this.low = new Int32Array(n);
    this.onStack = new Uint8Array(n);
    this.member = new Uint32Array(n);
  }

  /** Strongly connected components of the subgraph on `set` (alive nodes only), in reverse topological order. */
  components(set: number[]): number[][] {
    const stamp = ++this.stamp;
    for (const v of set) {
      this.member[v] = stamp;
      this.index[v] = -1;
    }
    const inSet = (v: number): boolean => this.member[v] === stamp && this.alive[v] === 1;
    const out: number[][] = [];
    const stack: number[] = [];
    const call: number[] = []; // DFS path
    const cursor: number[] = []; // next neighbour per path entry
    let counter = 0;
    for (const root of set) {
      if (!inSet(root) || this.index[root] !== -1) continue;
      call.push(root);
      cursor.push(this.lo[root]);
      this.index[root] = this.low[root] = counter++;
      stack.push(root);
      this.onStack[root] = 1;
      while (call.length > 0) {
        const v = call[call.length - 1];
        const c = cursor[cursor.length - 1];
        if (c < this.hi[v]) {
          cursor[cursor.length - 1] = c + 1;
          const w = c;
          if (w === v || !inSet(w)) continue; // self-overlap is memmove, not a conflict
          if (this.index[w] === -1) {
            this.index[w] = this.low[w] = counter++;
            stack.push(w);
            this.onStack[w] = 1;
            call.push(w);
            cursor.push(this.lo[w]);
          } else if (this.onStack[w]) {
            this.low[v] = Math.min(this.low[v], this.index[w]);
          }
          continue;
        }
        call.pop();
        cursor.pop();
        if (call.length > 0) {
          const parent = call[call.length - 1];
          this.low[parent] = Math.min(this.low[parent], this.low[v]);
        }
        if (this.low[v] === this.index[v]) {
          const scc: number[] = [];
          let w: number;
          do {
            w = stack.pop()!;
            this.onStack[w] = 0;
            scc.push(w);
          } while (w !== v);
          out.push(scc);
        }
      }
    }
    return out;
  }
}
