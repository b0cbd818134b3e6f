// The binary messages of protocol v1: the one place their bytes are defined.
// Client and server both import these codecs; docs/protocol.md draws the
// layouts. Every message starts with "DF", version 1, a type byte; integers
// are little-endian; u64 fields hold at most 2^53 - 1.
//
// Decoders are strict and allocation-safe: every count is checked against
// the body length before anything is allocated, so a hostile count costs
// nothing; a bad byte throws DeltaflareError MALFORMED (or
// UNSUPPORTED_VERSION) naming the field and the limit.
import type { DeltaflareError } from '../base/errors.js';
import { HEADER_BYTES, WIRE_LIMITS as L } from '../base/limits.js';
import { Reader, Writer, arg, checkInt, malformed } from './bytes.js';
import { readHeader, writeHeader } from './wire-header.js';

export * from './wire-header.js';
export * from './wire-part.js';

/** A batch of weak signatures for new chunks [firstIndex, firstIndex + crcs.length). */
export interface SignatureBatch {
  firstIndex: number;
  crcs: Uint32Array;
  lengths: Uint32Array;
}

/** New chunks [entry, entry + length) of a batch may equal old bytes starting at oldOffset. */
export interface MatchRun {
  /** Index within the batch (0 = the batch's firstIndex). */
  entry: number;
  /** Chunks in the run. */
  length: number;
  oldOffset: number;
}

/** The answer to a signature batch: candidate runs and a strong-hash prefix per candidate chunk. */
export interface Matches {
  firstIndex: number;
  count: number;
  strongBytes: number;
  runs: MatchRun[];
  /** strongBytes per chunk of each run, runs in order. */
  hashes: Uint8Array;
}

/** Copy `length` bytes of the basis at oldOffset to newOffset of the new file. */
export interface CopyOp {
  oldOffset: number;
  newOffset: number;
  length: number;
}
/** Copy `length` bytes of the new file at srcOffset (all literal, before newOffset) to newOffset, after all parts. */
export interface DupOp {
  srcOffset: number;
  newOffset: number;
  length: number;
}

/** Copies and dups of a session, sent once before commit. */
export interface PlanMessage {
  /** Size of the new file. */
  size: number;
  /** True: copies are listed in execution order for an in-place rebuild. Else sorted by newOffset. */
  inPlace: boolean;
  copies: CopyOp[];
  /** Sorted by newOffset. */
  dups: DupOp[];
}

// ---------------------------------------------------------------- signatures

/** Length codings of a signature batch: implied by the header, (length - 1) as u16, or u32. */
export const LengthCoding = { uniform: 0, u16: 1, u32: 2 } as const;

/**
 * The cheapest length coding for these lengths: uniform (4 bytes per chunk)
 * when all but the last are equal and the last is not longer, else u16
 * (6 bytes) when every length is at most 65536, else u32 (8 bytes).
 */
export function chooseLengthCoding(lengths: Uint32Array): number {
  const n = lengths.length;
  let uniform = n > 0;
  let small = true;
  for (let i = 0; i < n; i++) {
    if (i < n - 1 && lengths[i] !== lengths[0]) uniform = false;
    if (lengths[i] > 65536) small = false;
  }
  if (uniform && lengths[n - 1] <= lengths[0]) return LengthCoding.uniform;
  return small ? LengthCoding.u16 : LengthCoding.u32;
}

/** Encodes a signature batch (client -> server, `POST /v1/sessions/:id/match`). @example encodeSignatures({ firstIndex: 0, crcs, lengths }) */
export function encodeSignatures(batch: SignatureBatch, coding = chooseLengthCoding(batch.lengths)): Uint8Array {
  const { firstIndex, crcs, lengths } = batch;
  const n = crcs.length;
  checkInt('signatures lengthCoding', coding, 0, 2, arg);
  if (lengths.length !== n) throw arg(`signatures: ${n} crcs but ${lengths.length} lengths`);
  checkInt('signatures count', n, 1, L.maxBatch, arg);
  checkInt('signatures firstIndex', firstIndex, 0, 0xffffffff - n, arg);
  for (let i = 0; i < n; i++) checkInt(`signatures length[${i}]`, lengths[i], 1, L.maxChunkLength, arg);
  if (coding === LengthCoding.uniform && chooseLengthCoding(lengths) !== LengthCoding.uniform) {
    throw arg('signatures: uniform coding needs equal lengths but the last, which is not longer');
  }
  if (coding === LengthCoding.u16 && lengths.some((x) => x > 65536)) throw arg('signatures: u16 coding needs lengths <= 65536');
  const per = coding === LengthCoding.uniform ? 0 : coding === LengthCoding.u16 ? 2 : 4;
  const w = new Writer(HEADER_BYTES + n * (4 + per));
  writeHeader(w, 'signatures');
  w.u8(coding);
  w.zeros(3); // reserved
  w.u32(firstIndex);
  w.u32(n);
  w.u32(coding === LengthCoding.uniform ? lengths[0] : 0);
  w.u32(coding === LengthCoding.uniform ? lengths[n - 1] : 0);
  for (let i = 0; i < n; i++) w.u32(crcs[i]);
  if (per === 2) for (let i = 0; i < n; i++) w.u16(lengths[i] - 1);
  if (per === 4) for (let i = 0; i < n; i++) w.u32(lengths[i]);
  return w.bytes;
}

/** Decodes a signature batch; `maxCount` is the server's advertised batch limit. */
export function decodeSignatures(bytes: Uint8Array, maxCount: number = L.maxBatch): SignatureBatch {
  const r = new Reader(bytes, 'signatures');
  readHeader(r, 'signatures');
  const coding = r.u8('lengthCoding');
  if (coding > 2) throw malformed(`signatures: lengthCoding ${coding} is not 0, 1 or 2`);
  r.zeros(3, 'reserved');
  const firstIndex = r.u32('firstIndex');
  const n = r.u32('count');
  checkInt('signatures: count', n, 1, Math.min(maxCount, L.maxBatch), malformed);
  if (firstIndex + n > 0xffffffff) throw malformed(`signatures: firstIndex ${firstIndex} + count ${n} is above 2^32 - 1`);
  const uniformLength = r.u32('uniformLength');
  const lastLength = r.u32('lastLength');
  const per = coding === LengthCoding.uniform ? 0 : coding === LengthCoding.u16 ? 2 : 4;
  r.expectRemaining(n * (4 + per), `count ${n}:`);
  const crcs = new Uint32Array(n);
  const lengths = new Uint32Array(n);
  for (let i = 0; i < n; i++) crcs[i] = r.u32('crc');
  if (coding === LengthCoding.uniform) {
    checkInt('signatures: uniformLength', uniformLength, 1, L.maxChunkLength, malformed);
    checkInt('signatures: lastLength', lastLength, 1, uniformLength, malformed);
    lengths.fill(uniformLength);
    lengths[n - 1] = lastLength;
  } else {
    if (uniformLength !== 0 || lastLength !== 0) throw malformed('signatures: uniformLength and lastLength must be 0 unless lengthCoding is 0');
    for (let i = 0; i < n; i++) {
      lengths[i] = per === 2 ? r.u16('length') + 1 : r.u32('length');
      checkInt(`signatures: length[${i}]`, lengths[i], 1, L.maxChunkLength, malformed);
    }
  }
  r.end();
  return { firstIndex, crcs, lengths };
}

// ------------------------------------------------------------------- matches

/** Encodes a match answer (server -> client). Runs must be sorted by (entry, oldOffset), without repeats. */
export function encodeMatches(m: Matches): Uint8Array {
  checkInt('matches strongBytes', m.strongBytes, L.minStrongBytes, L.maxStrongBytes, arg);
  validateMatches(m, arg);
  const hashCount = m.hashes.length / m.strongBytes;
  const w = new Writer(HEADER_BYTES + 16 * m.runs.length + m.hashes.length);
  writeHeader(w, 'matches');
  w.u8(m.strongBytes);
  w.zeros(3); // reserved
  w.u32(m.firstIndex);
  w.u32(m.count);
  w.u32(m.runs.length);
  w.u32(hashCount);
  for (const run of m.runs) {
    w.u32(run.entry);
    w.u32(run.length);
    w.u64(run.oldOffset);
  }
  w.put(m.hashes);
  return w.bytes;
}

/** Decodes a match answer. */
export function decodeMatches(bytes: Uint8Array): Matches {
  const r = new Reader(bytes, 'matches');
  readHeader(r, 'matches');
  const strongBytes = r.u8('strongBytes');
  checkInt('matches: strongBytes', strongBytes, L.minStrongBytes, L.maxStrongBytes, malformed);
  r.zeros(3, 'reserved');
  const firstIndex = r.u32('firstIndex');
  const count = r.u32('count');
  const runCount = r.u32('runCount');
  const hashCount = r.u32('hashCount');
  r.expectRemaining(16 * runCount + hashCount * strongBytes, `runCount ${runCount} and hashCount ${hashCount}:`);
  const runs: MatchRun[] = new Array(runCount);
  for (let i = 0; i < runCount; i++) runs[i] = { entry: r.u32('run entry'), length: r.u32('run length'), oldOffset: r.u64('run oldOffset') };
  const hashes = r.take(hashCount * strongBytes, 'hashes').slice();
  r.end();
  const m = { firstIndex, count, strongBytes, runs, hashes };
  validateMatches(m, malformed);
  return m;
}

function validateMatches(m: Matches, fail: (s: string) => DeltaflareError): void {
  checkInt('matches: count', m.count, 1, L.maxBatch, fail);
  checkInt('matches: firstIndex', m.firstIndex, 0, 0xffffffff - m.count, fail);
  let total = 0;
  for (let i = 0; i < m.runs.length; i++) {
    const { entry, length, oldOffset } = m.runs[i];
    checkInt(`matches: run[${i}].entry`, entry, 0, m.count - 1, fail);
    checkInt(`matches: run[${i}].length`, length, 1, m.count - entry, fail);
    checkInt(`matches: run[${i}].oldOffset`, oldOffset, 0, L.maxOffset, fail);
    const prev = m.runs[i - 1];
    if (prev && (prev.entry > entry || (prev.entry === entry && prev.oldOffset >= oldOffset))) {
      throw fail(`matches: run[${i}] is not after run[${i - 1}] in (entry, oldOffset) order`);
    }
    total += length;
  }
  if (total > m.count * L.maxCandidates) throw fail(`matches: ${total} candidate chunks, above ${L.maxCandidates} per signature`);
  if (m.hashes.length !== total * m.strongBytes) throw fail(`matches: ${m.hashes.length} hash bytes, runs need ${total * m.strongBytes}`);
}

// ---------------------------------------------------------------------- plan

/** Encodes the plan (client -> server, `PUT /v1/sessions/:id/plan`). */
export function encodePlan(p: PlanMessage): Uint8Array {
  validatePlanMessage(p, arg);
  const w = new Writer(HEADER_BYTES + 24 * (p.copies.length + p.dups.length));
  writeHeader(w, 'plan');
  w.u8(p.inPlace ? 1 : 0);
  w.zeros(3); // reserved
  w.u32(p.copies.length);
  w.u32(p.dups.length);
  w.u64(p.size);
  for (const c of p.copies) for (const v of [c.oldOffset, c.newOffset, c.length]) w.u64(v);
  for (const d of p.dups) for (const v of [d.srcOffset, d.newOffset, d.length]) w.u64(v);
  return w.bytes;
}

/** Decodes the plan; `maxOps` is the server's advertised limit on copies + dups. */
export function decodePlan(bytes: Uint8Array, maxOps: number = L.maxPlanOps): PlanMessage {
  const r = new Reader(bytes, 'plan');
  readHeader(r, 'plan');
  const flags = r.u8('flags');
  if (flags > 1) throw malformed(`plan: flags ${flags}, only bit 0 (inPlace) is defined`);
  r.zeros(3, 'reserved');
  const copyCount = r.u32('copyCount');
  const dupCount = r.u32('dupCount');
  const size = r.u64('size');
  if (copyCount + dupCount > Math.min(maxOps, L.maxPlanOps)) {
    throw malformed(`plan: ${copyCount + dupCount} ops, above the limit ${Math.min(maxOps, L.maxPlanOps)}`);
  }
  r.expectRemaining(24 * (copyCount + dupCount), `copyCount ${copyCount} and dupCount ${dupCount}:`);
  const copies: CopyOp[] = new Array(copyCount);
  for (let i = 0; i < copyCount; i++) copies[i] = { oldOffset: r.u64('copy oldOffset'), newOffset: r.u64('copy newOffset'), length: r.u64('copy length') };
  const dups: DupOp[] = new Array(dupCount);
  for (let i = 0; i < dupCount; i++) dups[i] = { srcOffset: r.u64('dup srcOffset'), newOffset: r.u64('dup newOffset'), length: r.u64('dup length') };
  r.end();
  const p = { size, inPlace: flags === 1, copies, dups };
  validatePlanMessage(p, malformed);
  return p;
}

function validatePlanMessage(p: PlanMessage, fail: (s: string) => DeltaflareError): void {
  checkInt('plan: size', p.size, 0, L.maxOffset, fail);
  if (p.copies.length + p.dups.length > L.maxPlanOps) throw fail(`plan: ${p.copies.length + p.dups.length} ops, above ${L.maxPlanOps}`);
  p.copies.forEach((c, i) => {
    checkInt(`plan: copy[${i}].length`, c.length, 1, p.size, fail);
    checkInt(`plan: copy[${i}].newOffset`, c.newOffset, 0, p.size - c.length, fail);
    checkInt(`plan: copy[${i}].oldOffset`, c.oldOffset, 0, L.maxOffset - c.length, fail);
  });
  p.dups.forEach((d, i) => {
    checkInt(`plan: dup[${i}].length`, d.length, 1, p.size, fail);
    checkInt(`plan: dup[${i}].newOffset`, d.newOffset, 0, p.size - d.length, fail);
    checkInt(`plan: dup[${i}].srcOffset`, d.srcOffset, 0, d.newOffset - d.length, fail);
    if (i > 0 && p.dups[i - 1].newOffset + p.dups[i - 1].length > d.newOffset) throw fail(`plan: dup[${i}] starts before dup[${i - 1}] ends`);
  });
  // Destinations are disjoint: sort a copy when the order is the in-place execution order.
  const order = p.inPlace ? [...p.copies].sort((a, b) => a.newOffset - b.newOffset) : p.copies;
  for (let i = 1; i < order.length; i++) {
    if (order[i - 1].newOffset + order[i - 1].length > order[i].newOffset) {
      throw fail(p.inPlace ? 'plan: two copies write overlapping ranges' : `plan: copy[${i}] starts before copy[${i - 1}] ends`);
    }
  }
}
