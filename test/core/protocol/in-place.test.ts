import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyInPlace } from '../../../core/protocol/apply.js';
import { firstOverwrittenRead, orderInPlace } from '../../../core/protocol/in-place.js';
import type { CopyOp } from '../../../core/protocol/wire.js';
import { concat, expectSameBytes, fixedChunker, randomBytes, syncRun } from './helpers.js';

const overlaps = (a: number, al: number, b: number, bl: number): boolean => a < b + bl && b < a + al;

/** Copies whose destinations tile [0, n) in pieces of random length and whose sources are random in [0, oldSize). */
const copySet = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 0, maxLength: 60 }),
    fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    fc.integer({ min: 50, max: 1500 }),
  )
  .map(([lengths, seed, oldSize]) => {
    const r = randomBytes(lengths.length * 4, seed);
    let at = 0;
    return {
      oldSize,
      copies: lengths.map((length, i): CopyOp => {
        const op = { newOffset: at, length, oldOffset: ((r[4 * i] << 8) | r[4 * i + 1]) % Math.max(1, oldSize - length + 1) };
        at += length;
        return op;
      }),
    };
  });

/** In-place rebuild of fixed 1000-byte blocks moved around, through the whole pipeline. */
function rebuild(old: Uint8Array, next: Uint8Array): ReturnType<typeof syncRun> {
  const run = syncRun(old, next, fixedChunker(1000), { partSize: 100_000, inPlace: true, dedup: false });
  const buffer = new Uint8Array(Math.max(old.length, next.length));
  buffer.set(old);
  expectSameBytes(applyInPlace(buffer, old.length, run.message, run.parts), next);
  return run;
}

/** Orders hand-made copies (tiling the new file), sends converted ones as literals, rebuilds in place and checks the bytes. */
function rebuildSynthetic(old: Uint8Array, copies: CopyOp[]): { converted: CopyOp[] } {
  const size = copies.reduce((s, c) => s + c.length, 0);
  const next = new Uint8Array(size);
  for (const c of copies) next.set(old.subarray(c.oldOffset, c.oldOffset + c.length), c.newOffset);
  const { copies: order, converted } = orderInPlace(copies);
  const ops = converted.map((c) => ({ newOffset: c.newOffset, length: c.length }));
  const payload = concat(...ops.map((o) => next.subarray(o.newOffset, o.newOffset + o.length)));
  const buffer = new Uint8Array(Math.max(old.length, size));
  buffer.set(old);
  const parts = ops.length > 0 ? [{ ops, payload }] : [];
  expectSameBytes(applyInPlace(buffer, old.length, { size, inPlace: true, copies: order, dups: [] }, parts), next);
  return { converted };
}

describe('in-place ordering', () => {
  it('should order copies so that none overwrites a source a later copy reads', () => {
    fc.assert(
      fc.property(copySet, ({ copies }) => {
        const { copies: order, converted } = orderInPlace(copies);
        expect([...order, ...converted].sort((a, b) => a.newOffset - b.newOffset)).toEqual(copies);
        for (let i = 0; i < order.length; i++) {
          for (let j = i + 1; j < order.length; j++) {
            expect(overlaps(order[i].newOffset, order[i].length, order[j].oldOffset, order[j].length)).toBe(false);
          }
        }
      }),
    );
  });

  it('should give every kept copy its source bytes when run in one buffer', () => {
    fc.assert(
      fc.property(copySet, ({ copies, oldSize }) => {
        const newSize = copies.reduce((s, c) => s + c.length, 0);
        const old = randomBytes(oldSize, 99);
        const buffer = new Uint8Array(Math.max(oldSize, newSize));
        buffer.set(old);
        const { copies: order } = orderInPlace(copies);
        for (const c of order) buffer.copyWithin(c.newOffset, c.oldOffset, c.oldOffset + c.length);
        for (const c of order) expectSameBytes(buffer.subarray(c.newOffset, c.newOffset + c.length), old.subarray(c.oldOffset, c.oldOffset + c.length));
      }),
    );
  });

  it('should swap two halves by turning one copy into a literal', () => {
    const old = randomBytes(8000, 1);
    const run = rebuild(old, concat(old.subarray(4000), old.subarray(0, 4000)));
    expect(run.plan.converted).toBe(1);
    expect(run.plan.copies).toHaveLength(1);
  });

  it('should turn the cheapest copy of a cycle into a literal', () => {
    const old = randomBytes(4000, 2);
    // New = old[1000..4000) + old[0..1000): a 3000-byte copy and a 1000-byte copy that read each other's destination.
    const run = rebuild(old, concat(old.subarray(1000), old.subarray(0, 1000)));
    expect(run.plan.copies).toEqual([{ oldOffset: 1000, newOffset: 0, length: 3000 }]);
    expect(run.plan.parts.flatMap((p) => p.ops)).toEqual([{ newOffset: 3000, length: 1000 }]);
  });

  it('should rotate three blocks, breaking the one cycle once', () => {
    // Copies read the next block: a 3-cycle C0 -> C2 -> C1 -> C0 (a merged plan would not make it; the orderer must cope).
    const copies = [0, 1, 2].map((k) => ({ oldOffset: ((k + 1) % 3) * 1000, newOffset: k * 1000, length: 1000 }));
    const { converted } = rebuildSynthetic(randomBytes(3000, 3), copies);
    expect(converted).toHaveLength(1);
  });

  it('should convert the cheapest copy first when blocks differ in size', () => {
    // new = c a b from old = a(3000) b(1000) c(2000), as three separate copies. Edges: a -> c, b -> a,
    // c -> a, c -> b. The component's cheapest is b (1000); a <-> c is still a cycle, whose cheapest is c (2000).
    const copies = [
      { oldOffset: 4000, newOffset: 0, length: 2000 },
      { oldOffset: 0, newOffset: 2000, length: 3000 },
      { oldOffset: 3000, newOffset: 5000, length: 1000 },
    ];
    const { converted } = rebuildSynthetic(randomBytes(6000, 4), copies);
    expect(converted).toEqual([copies[0], copies[2]]);
  });

  it('should shift the whole file by an insert or a delete with memmove and no literal', () => {
    const old = randomBytes(10_000, 6);
    const right = rebuild(old, concat(randomBytes(1000, 7), old));
    expect(right.plan.converted).toBe(0);
    expect(right.plan.copies).toEqual([{ oldOffset: 0, newOffset: 1000, length: 10_000 }]);
    const left = rebuild(old, old.subarray(3000));
    expect(left.plan.copies).toEqual([{ oldOffset: 3000, newOffset: 0, length: 7000 }]);
  });

  it('should reverse 200 blocks with 100 two-cycles broken and the file rebuilt', () => {
    const blocks = Array.from({ length: 200 }, (_, i) => randomBytes(1000, i + 1));
    const run = rebuild(concat(...blocks), concat(...blocks.reverse()));
    expect(run.plan.converted).toBe(100);
  });

  it('should order 100,000 copies of a random block permutation, turning one copy per cycle into a literal', () => {
    const n = 100_000;
    const perm = Array.from({ length: n }, (_, i) => i);
    const r = randomBytes(n * 4, 42);
    for (let i = n - 1; i > 0; i--) {
      const j = (r[4 * i] | (r[4 * i + 1] << 8) | (r[4 * i + 2] << 16)) % (i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const copies = perm.map((src, i) => ({ oldOffset: src * 4096, newOffset: i * 4096, length: 4096 }));
    const { copies: order, converted } = orderInPlace(copies);
    expect(order.length + converted.length).toBe(n);
    // A random permutation has about ln(n) = 12 cycles; one copy per cycle of length >= 2 becomes a literal.
    expect(converted.length).toBeLessThan(40);
    expect(firstOverwrittenRead(order)).toBe(-1);
  });
});

describe("firstOverwrittenRead (the endpoint's check of a client's in-place order)", () => {
  /** The slow truth: copy i reads bytes a copy before it wrote. */
  const naive = (copies: CopyOp[]): number =>
    copies.findIndex((c, i) => copies.slice(0, i).some((d) => overlaps(c.oldOffset, c.length, d.newOffset, d.length)));

  it('should find the first copy reading overwritten bytes, as a pairwise check does, in any order', () => {
    fc.assert(
      fc.property(copySet, fc.integer({ min: 1, max: 2 ** 31 - 1 }), ({ copies }, seed) => {
        const r = randomBytes(copies.length * 2, seed);
        const shuffled = copies
          .map((c, i) => ({ c, key: r[2 * i] * 256 + r[2 * i + 1] }))
          .sort((a, b) => a.key - b.key)
          .map((x) => x.c);
        expect(firstOverwrittenRead(shuffled)).toBe(naive(shuffled));
      }),
      { numRuns: 300 },
    );
  });

  it('should accept every order orderInPlace makes, and a copy overlapping only itself', () => {
    fc.assert(
      fc.property(copySet, ({ copies }) => {
        expect(firstOverwrittenRead(orderInPlace(copies).copies)).toBe(-1);
      }),
      { numRuns: 200 },
    );
    expect(firstOverwrittenRead([{ oldOffset: 10, newOffset: 0, length: 100 }])).toBe(-1);
    // Swapping two blocks: either order overwrites what the other still reads.
    expect(
      firstOverwrittenRead([
        { oldOffset: 0, newOffset: 100, length: 100 },
        { oldOffset: 100, newOffset: 0, length: 100 },
      ]),
    ).toBe(1);
  });
});
