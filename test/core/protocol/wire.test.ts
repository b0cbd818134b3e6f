import { WIRE_LIMITS } from '../../../core/base/limits.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeltaflareError } from '../../../core/base/errors.js';
import { crc32Js } from '../../../core/protocol/crc32-js.js';
import {
  LengthCoding,
  chooseLengthCoding,
  decodeMatches,
  decodePart,
  decodePlan,
  decodeSignatures,
  encodeMatches,
  encodePart,
  encodePlan,
  encodeSignatures,
  messageType,
  partBodyBytes,
  partPayloadOffset,
  type Matches,
  type PartMessage,
  type PlanMessage,
  type SignatureBatch,
} from '../../../core/protocol/wire.js';
import { crc32 } from 'node:zlib';

/** Expects a DeltaflareError with this code (and no other kind of exception). */
function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DeltaflareError);
    expect((e as DeltaflareError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const offset = fc.integer({ min: 0, max: 2 ** 40 });

const signatureBatch: fc.Arbitrary<SignatureBatch> = fc
  .tuple(
    fc.integer({ min: 0, max: 1e6 }),
    fc.oneof(
      // Fixed chunking: equal lengths but the last.
      fc
        .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 }))
        .map(([n, block, last]) => Array.from({ length: n }, (_, i) => (i === n - 1 ? Math.min(last, block) : block))),
      fc.array(fc.integer({ min: 1, max: 65536 }), { minLength: 1, maxLength: 300 }),
      fc.array(fc.integer({ min: 1, max: WIRE_LIMITS.maxChunkLength }), { minLength: 1, maxLength: 300 }),
    ),
  )
  .chain(([firstIndex, lengths]) =>
    fc.array(u32, { minLength: lengths.length, maxLength: lengths.length }).map((crcs) => ({
      firstIndex,
      crcs: Uint32Array.from(crcs),
      lengths: Uint32Array.from(lengths),
    })),
  );

const matches: fc.Arbitrary<Matches> = fc
  .tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 8, max: 32 }), fc.integer({ min: 0, max: 1e6 }))
  .chain(([count, strongBytes, firstIndex]) =>
    fc
      .uniqueArray(fc.tuple(fc.integer({ min: 0, max: count - 1 }), offset), { maxLength: Math.min(20, count), selector: ([e, o]) => `${e}/${o}` })
      .chain((starts) => {
        const sorted = starts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        return fc.tuple(...sorted.map(([e]) => fc.integer({ min: 1, max: Math.min(4, count - e) }))).chain((lens) => {
          const total = lens.reduce((s, x) => s + x, 0);
          return fc.uint8Array({ minLength: total * strongBytes, maxLength: total * strongBytes }).map((hashes) => ({
            firstIndex,
            count,
            strongBytes,
            hashes,
            runs: sorted.map(([entry, oldOffset], i) => ({ entry, length: lens[i], oldOffset })),
          }));
        });
      }),
  );

/** Disjoint sorted ranges [offset, offset + length) with gaps: destinations of ops. */
const ranges = (max: number): fc.Arbitrary<Array<{ at: number; length: number }>> =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 600 })), { minLength: 0, maxLength: max }).map((xs) => {
    let at = 0;
    return xs.map(([gap, length]) => {
      const r = { at: at + gap, length };
      at = r.at + length;
      return r;
    });
  });

const planMessage: fc.Arbitrary<PlanMessage> = fc
  .tuple(ranges(30), fc.boolean(), fc.integer({ min: 0, max: 1000 }), fc.array(offset, { minLength: 30, maxLength: 30 }))
  .map(([rs, inPlace, tail, olds]) => {
    const size = (rs.length ? rs[rs.length - 1].at + rs[rs.length - 1].length : 0) + tail;
    const copies = rs.filter((_, i) => i % 2 === 0).map((r, i) => ({ oldOffset: olds[i], newOffset: r.at, length: r.length }));
    // A dup reads bytes before it: [0, length) when it fits.
    const dups = rs.filter((r, i) => i % 2 === 1 && r.at >= r.length).map((r) => ({ srcOffset: r.at - r.length, newOffset: r.at, length: r.length }));
    return { size, inPlace, copies: inPlace ? copies.reverse() : copies, dups };
  });

const partMessage: fc.Arbitrary<PartMessage> = fc
  .tuple(
    u32,
    ranges(20).filter((r) => r.length > 0),
    fc.boolean(),
  )
  .chain(([part, rs, deflated]) => {
    const literalBytes = rs.reduce((s, r) => s + r.length, 0);
    return fc.uint8Array({ minLength: deflated ? 1 : literalBytes, maxLength: deflated ? 100 : literalBytes }).map((payload) => ({
      part,
      deflated,
      literalBytes,
      payload,
      ops: rs.map((r) => ({ newOffset: r.at, length: r.length })),
    }));
  });

describe('wire: round trips', () => {
  it('should decode every signature batch it encodes, in each length coding that fits', () => {
    fc.assert(
      fc.property(signatureBatch, (b) => {
        const codings = [LengthCoding.u32, chooseLengthCoding(b.lengths)];
        if (b.lengths.every((x) => x <= 65536)) codings.push(LengthCoding.u16);
        for (const c of codings) expect(decodeSignatures(encodeSignatures(b, c))).toEqual(b);
      }),
    );
  });

  it('should spend 4 bytes per chunk on fixed blocks, 6 on CDC chunks up to 64 KiB, 8 beyond', () => {
    const crcs = new Uint32Array(1000);
    expect(encodeSignatures({ firstIndex: 0, crcs, lengths: new Uint32Array(1000).fill(4096) }).length).toBe(24 + 4000);
    expect(encodeSignatures({ firstIndex: 0, crcs, lengths: new Uint32Array(1000).map((_, i) => 2048 + i) }).length).toBe(24 + 6000);
    expect(encodeSignatures({ firstIndex: 0, crcs, lengths: new Uint32Array(1000).map((_, i) => 65537 + i) }).length).toBe(24 + 8000);
  });

  it('should decode every match answer, plan and part it encodes', () => {
    fc.assert(
      fc.property(matches, (m) => {
        expect(decodeMatches(encodeMatches(m))).toEqual(m);
      }),
    );
    fc.assert(
      fc.property(planMessage, (p) => {
        expect(decodePlan(encodePlan(p))).toEqual(p);
      }),
    );
    fc.assert(
      fc.property(partMessage, (p) => {
        const bytes = encodePart(p);
        expect(decodePart(bytes)).toEqual(p);
        expect(messageType(bytes)).toBe('part');
      }),
    );
  });

  it('should give the same part bytes with the built-in CRC32 as with zlib', () => {
    fc.assert(
      fc.property(partMessage, (p) => {
        expect(encodePart(p, { crc32: (b) => crc32(b) >>> 0 })).toEqual(encodePart(p));
      }),
      { numRuns: 30 },
    );
    expect(crc32Js(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('should give the same part bytes when written around a payload already in place (into)', () => {
    fc.assert(
      fc.property(partMessage, fc.integer({ min: 0, max: 255 }), (p, junk) => {
        const into = new Uint8Array(partBodyBytes(p.ops.length, p.payload.length)).fill(junk); // header bytes must all be written
        const at = partPayloadOffset(p.ops.length);
        into.set(p.payload, at);
        const body = encodePart({ ...p, payload: into.subarray(at, at + p.payload.length) }, { into });
        expect(body).toBe(into);
        expect(Buffer.from(body).equals(encodePart(p))).toBe(true);
      }),
      { numRuns: 50 },
    );
    const p: PartMessage = { part: 0, ops: [{ newOffset: 0, length: 2 }], literalBytes: 2, deflated: false, payload: Uint8Array.of(1, 2) };
    expect(() => encodePart(p, { into: new Uint8Array(partBodyBytes(1, 2)) })).toThrow(/partPayloadOffset/);
  });
});

const samples: Array<[string, Uint8Array, (b: Uint8Array) => unknown]> = [
  ['signatures', encodeSignatures({ firstIndex: 5, crcs: Uint32Array.of(1, 2, 3), lengths: Uint32Array.of(4096, 4096, 100) }), decodeSignatures],
  ['signatures u16', encodeSignatures({ firstIndex: 5, crcs: Uint32Array.of(1, 2), lengths: Uint32Array.of(300, 4096) }), decodeSignatures],
  [
    'matches',
    encodeMatches({ firstIndex: 0, count: 3, strongBytes: 8, runs: [{ entry: 1, length: 2, oldOffset: 8192 }], hashes: new Uint8Array(16).fill(7) }),
    decodeMatches,
  ],
  [
    'plan',
    encodePlan({ size: 300, inPlace: false, copies: [{ oldOffset: 0, newOffset: 0, length: 100 }], dups: [{ srcOffset: 100, newOffset: 200, length: 100 }] }),
    decodePlan,
  ],
  [
    'part',
    encodePart({
      part: 3,
      ops: [
        { newOffset: 100, length: 3 },
        { newOffset: 200, length: 2 },
      ],
      literalBytes: 5,
      deflated: false,
      payload: Uint8Array.of(1, 2, 3, 4, 5),
    }),
    decodePart,
  ],
];

describe('wire: hostile input', () => {
  it.each(samples)('should reject %s truncated at every byte', (_, bytes, decode) => {
    for (let n = 0; n < bytes.length; n++) expectCode(() => decode(bytes.subarray(0, n)), 'MALFORMED');
  });

  it.each(samples)('should reject %s with a trailing byte', (_, bytes, decode) => {
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectCode(() => decode(longer), 'MALFORMED');
  });

  it.each(samples)('should reject %s with a wrong magic, version or type', (_, bytes, decode) => {
    const change = (at: number, v: number): Uint8Array => Object.assign(bytes.slice(), { [at]: v });
    expectCode(() => decode(change(0, 0x45)), 'MALFORMED');
    expectCode(() => decode(change(1, 0x00)), 'MALFORMED');
    expectCode(() => decode(change(2, 2)), 'UNSUPPORTED_VERSION');
    expectCode(() => decode(change(3, bytes[3] === 1 ? 2 : 1)), 'MALFORMED');
    expectCode(() => decode(change(5, 1)), 'MALFORMED'); // a reserved byte
  });

  // Offsets of the count and length fields of each sample's fixed header.
  const countFields: Record<string, number[]> = {
    signatures: [12, 16, 20],
    'signatures u16': [12],
    matches: [12, 16, 20],
    plan: [8, 12],
    part: [12, 16, 20],
  };
  it.each(samples)('should reject %s with any count field set huge without allocating it', (name, bytes, decode) => {
    for (const at of countFields[name]) {
      for (const v of [0xffffffff, 0x80000000]) {
        const b = bytes.slice();
        new DataView(b.buffer).setUint32(at, v, true);
        expectCode(() => decode(b), 'MALFORMED');
      }
    }
  });

  it('should reject every single-byte corruption of a part as a checksum mismatch', () => {
    const bytes = samples[4][1];
    for (let at = 4; at < bytes.length; at++) {
      const b = bytes.slice();
      b[at] ^= 0x10;
      expect(() => decodePart(b)).toThrow(DeltaflareError);
    }
    const b = bytes.slice();
    b[b.length - 6] ^= 1; // a payload byte: only the CRC can tell
    expectCode(() => decodePart(b), 'CHECKSUM_MISMATCH');
  });

  it('should reject counts that disagree with the body and values out of range', () => {
    const sig = samples[0][1].slice();
    new DataView(sig.buffer).setUint32(12, 2, true); // count 2, body holds 3
    expectCode(() => decodeSignatures(sig), 'MALFORMED');
    const last = samples[0][1].slice();
    new DataView(last.buffer).setUint32(20, 5000, true); // lastLength above uniformLength
    expectCode(() => decodeSignatures(last), 'MALFORMED');
    expectCode(() => decodeSignatures(samples[0][1], 2), 'MALFORMED'); // 3 signatures, server limit 2
    const runs = samples[2][1].slice();
    new DataView(runs.buffer).setUint32(28, 3, true); // run of 3 from entry 1 in a batch of 3
    expectCode(() => decodeMatches(runs), 'MALFORMED');
    const big = samples[3][1].slice();
    new DataView(big.buffer).setUint32(24 + 4, 0x00200000, true); // oldOffset high word: 2^53
    expectCode(() => decodePlan(big), 'MALFORMED');
    expectCode(() => decodePlan(samples[3][1], 1), 'MALFORMED'); // 2 ops, limit 1
    expectCode(() => decodePart(samples[4][1], { maxLiteralBytes: 4 }), 'MALFORMED');
  });

  it('should name the field and the limit in the message', () => {
    expect(() => decodeSignatures(samples[0][1], 2)).toThrow(/count 3 is outside 1\.\.2/);
    expect(() => decodePart(samples[4][1].subarray(0, 30))).toThrow(/part: opCount 2 and payloadBytes 5: need 33 more bytes, body has 6/);
  });

  it('should reject overlapping or unsorted ops in plans and parts', () => {
    expectCode(
      () =>
        encodePlan({
          size: 10,
          inPlace: false,
          copies: [
            { oldOffset: 0, newOffset: 5, length: 5 },
            { oldOffset: 0, newOffset: 0, length: 6 },
          ],
          dups: [],
        }),
      'INVALID_ARGUMENT',
    );
    expectCode(
      () =>
        encodePlan({
          size: 10,
          inPlace: true,
          copies: [
            { oldOffset: 0, newOffset: 5, length: 5 },
            { oldOffset: 0, newOffset: 0, length: 6 },
          ],
          dups: [],
        }),
      'INVALID_ARGUMENT',
    );
    expectCode(() => encodePlan({ size: 10, inPlace: false, copies: [], dups: [{ srcOffset: 2, newOffset: 5, length: 5 }] }), 'INVALID_ARGUMENT');
    expectCode(
      () =>
        encodePart({
          part: 0,
          ops: [
            { newOffset: 5, length: 1 },
            { newOffset: 5, length: 1 },
          ],
          literalBytes: 2,
          deflated: false,
          payload: new Uint8Array(2),
        }),
      'INVALID_ARGUMENT',
    );
    // The same, as bytes a hostile client made: swap the two ops of a valid part.
    const p = samples[4][1].slice();
    const ops = p.slice(24, 48);
    p.set(ops.subarray(12, 24), 24);
    p.set(ops.subarray(0, 12), 36);
    new DataView(p.buffer).setUint32(p.length - 4, crc32Js(p.subarray(0, p.length - 4)), true);
    expectCode(() => decodePart(p), 'MALFORMED');
  });

  it('should never throw anything but DeltaflareError on random bytes after a valid header', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 200 }), (type, tail) => {
        const bytes = Uint8Array.from([0x44, 0x46, 1, type, ...tail]);
        for (const decode of [decodeSignatures, decodeMatches, decodePlan, decodePart]) {
          try {
            decode(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(DeltaflareError);
          }
        }
      }),
    );
  });
});
