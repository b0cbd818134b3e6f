// The part message of protocol v1 (client -> server, `PUT /v1/sessions/:id/parts/:n`):
// literal ops, their bytes (deflate-raw when that pays) and a CRC32 of the
// whole body. Same rules as wire.ts: strict, allocation-safe decoders.
import { DeltaflareError } from '../base/errors.js';
import { HEADER_BYTES, WIRE_LIMITS as L } from '../base/limits.js';
import { Reader, Writer, arg, checkInt, malformed } from './bytes.js';
import { crc32Js } from './crc32-js.js';
import { hex32 } from './hex.js';
import { readHeader, writeHeader } from './wire-header.js';

/** `length` bytes at newOffset come from a part's payload. */
export interface LiteralOp {
  newOffset: number;
  length: number;
}

/** One part: literal ops (sorted by newOffset) and their bytes, concatenated in op order. */
export interface PartMessage {
  part: number;
  ops: LiteralOp[];
  /** Sum of op lengths: the payload's size once inflated. */
  literalBytes: number;
  /** True: `payload` is deflate-raw; inflate to literalBytes bytes (compress.ts). */
  deflated: boolean;
  payload: Uint8Array;
}

/** Options of the part codec: a faster CRC32 (e.g. the kernels' `k.crc32`) than the built-in one. */
export interface CrcOption {
  crc32?: (bytes: Uint8Array) => number;
}

/**
 * A raw payload's CRC32 already known (combined from its chunks' CRCs), so a
 * part's CRC costs a pass over its header and ops only: zlib's crc32_combine
 * joins the two.
 */
export interface KnownPayloadCrc {
  payloadCrc: number;
  crc32Combine: (crcA: number, crcB: number, lengthB: number) => number;
}

/** Where a part body's payload starts: after the header and 12 bytes per op. */
export const partPayloadOffset = (opCount: number): number => HEADER_BYTES + 12 * opCount;

/** The size of a part body: header, ops, payload, CRC. */
export const partBodyBytes = (opCount: number, payloadBytes: number): number => partPayloadOffset(opCount) + payloadBytes + 4;

/**
 * Encodes a part (client -> server, `PUT /v1/sessions/:id/parts/:n`). The last 4 bytes are a CRC32 of all before them.
 * With `into` (partBodyBytes in size, `p.payload` already at partPayloadOffset), the body is written around the
 * payload instead of copying it: a client reads the literal bytes straight into the body it sends. With a known
 * raw payload's CRC (KnownPayloadCrc) the payload is not read for the CRC either.
 */
export function encodePart(p: PartMessage, options: CrcOption & Partial<KnownPayloadCrc> & { into?: Uint8Array } = {}): Uint8Array {
  validatePart(p, p.payload.length, arg);
  const size = partBodyBytes(p.ops.length, p.payload.length);
  const into = options.into !== undefined;
  if (into && (p.payload.buffer !== options.into!.buffer || p.payload.byteOffset !== options.into!.byteOffset + partPayloadOffset(p.ops.length))) {
    throw arg('part: the payload must lie in `into` at partPayloadOffset');
  }
  const w = new Writer(size, options.into);
  writePartHead(w, p, p.payload.length);
  if (into) w.offset += p.payload.length;
  else w.put(p.payload);
  const crc32 = options.crc32 ?? crc32Js;
  const known = !p.deflated && options.payloadCrc !== undefined && options.crc32Combine;
  const head = partPayloadOffset(p.ops.length);
  w.u32(known ? options.crc32Combine!(crc32(w.bytes.subarray(0, head)), options.payloadCrc!, p.payload.length) : crc32(w.bytes.subarray(0, w.offset)));
  return w.bytes;
}

/**
 * A raw part's body without its payload, for a payload the caller does not
 * hold (a browser sends slices of the picked File, which fetch streams from
 * disk): the bytes before the payload (`head`) and after it (`tail`, the
 * CRC32, from the payload's known CRC). The body is head + payload + tail.
 */
export function partFrame(
  p: Omit<PartMessage, 'payload' | 'deflated'>,
  options: CrcOption & KnownPayloadCrc,
): { head: Uint8Array<ArrayBuffer>; tail: Uint8Array<ArrayBuffer> } {
  validatePart({ ...p, deflated: false }, p.literalBytes, arg);
  const w = new Writer(partPayloadOffset(p.ops.length));
  writePartHead(w, { ...p, deflated: false }, p.literalBytes);
  const tail = new Writer(4);
  tail.u32(options.crc32Combine((options.crc32 ?? crc32Js)(w.bytes), options.payloadCrc, p.literalBytes));
  return { head: w.bytes as Uint8Array<ArrayBuffer>, tail: tail.bytes as Uint8Array<ArrayBuffer> };
}

/** The part header and its ops: everything before the payload. */
function writePartHead(w: Writer, p: Omit<PartMessage, 'payload'>, payloadBytes: number): void {
  writeHeader(w, 'part');
  w.u8(p.deflated ? 1 : 0);
  w.zeros(3); // reserved
  w.u32(p.part);
  w.u32(p.ops.length);
  w.u32(p.literalBytes);
  w.u32(payloadBytes);
  for (const op of p.ops) {
    w.u64(op.newOffset);
    w.u32(op.length);
  }
}

/**
 * Decodes a part and checks its CRC32; `maxLiteralBytes` is the session's part size.
 * `verifyCrc: false` leaves the CRC to the caller (the endpoint derives the
 * payload's CRC from its per-chunk CRCs with crc32Combine instead of a
 * second pass over the body; see checkPartCrc).
 */
export function decodePart(bytes: Uint8Array, options: CrcOption & { maxLiteralBytes?: number; maxOps?: number; verifyCrc?: boolean } = {}): PartMessage {
  const r = new Reader(bytes, 'part');
  readHeader(r, 'part');
  const flags = r.u8('flags');
  if (flags > 1) throw malformed(`part: flags ${flags}, only bit 0 (deflate-raw) is defined`);
  r.zeros(3, 'reserved');
  const part = r.u32('part');
  const opCount = r.u32('opCount');
  const maxOps = Math.min(options.maxOps ?? L.maxPartOps, L.maxPartOps);
  checkInt('part: opCount', opCount, 1, maxOps, malformed);
  const literalBytes = r.u32('literalBytes');
  checkInt('part: literalBytes', literalBytes, 1, Math.min(options.maxLiteralBytes ?? L.maxPartBytes, L.maxPartBytes), malformed);
  const payloadBytes = r.u32('payloadBytes');
  r.expectRemaining(12 * opCount + payloadBytes + 4, `opCount ${opCount} and payloadBytes ${payloadBytes}:`);
  const verify = () => verifyPartCrc(bytes, part, options.crc32 ?? crc32Js);
  const deferred = options.verifyCrc === false;
  if (!deferred) verify();
  try {
    const ops: LiteralOp[] = new Array(opCount);
    for (let i = 0; i < opCount; i++) ops[i] = { newOffset: r.u64('op newOffset'), length: r.u32('op length') };
    const payload = r.take(payloadBytes, 'payload');
    r.u32('crc32');
    r.end();
    const p = { part, ops, literalBytes, deflated: flags === 1, payload };
    validatePart(p, payload.length, malformed);
    return p;
  } catch (e) {
    if (deferred) verify(); // damaged in transit reads as CHECKSUM_MISMATCH (resend), as when the CRC is checked first
    throw e;
  }
}

/** CHECKSUM_MISMATCH unless the CRC32 of everything before a part body's last 4 bytes is the one they carry. */
export function verifyPartCrc(bytes: Uint8Array, part: number, crc32: (b: Uint8Array) => number): void {
  checkPartCrc(bytes, part, crc32(bytes.subarray(0, bytes.length - 4)));
}

/** As verifyPartCrc, with that CRC32 already known (e.g. combined from pieces with crc32_combine). */
export function checkPartCrc(bytes: Uint8Array, part: number, expected: number): void {
  const actual = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (expected !== actual) {
    throw new DeltaflareError('CHECKSUM_MISMATCH', `part ${part}: CRC32 ${hex32(actual)} does not match the body's ${hex32(expected)}: resend it`);
  }
}

function validatePart(p: Omit<PartMessage, 'payload'>, payloadBytes: number, fail: (s: string) => DeltaflareError): void {
  checkInt('part: part', p.part, 0, 0xffffffff, fail);
  checkInt('part: opCount', p.ops.length, 1, L.maxPartOps, fail);
  checkInt('part: literalBytes', p.literalBytes, 1, L.maxPartBytes, fail);
  let sum = 0;
  p.ops.forEach((op, i) => {
    checkInt(`part: op[${i}].length`, op.length, 1, L.maxPartBytes, fail);
    checkInt(`part: op[${i}].newOffset`, op.newOffset, 0, L.maxOffset - op.length, fail);
    const prev = p.ops[i - 1];
    if (prev && prev.newOffset + prev.length > op.newOffset) throw fail(`part: op[${i}] starts before op[${i - 1}] ends`);
    sum += op.length;
  });
  if (sum !== p.literalBytes) throw fail(`part: ops hold ${sum} bytes but literalBytes is ${p.literalBytes}`);
  if (!p.deflated && payloadBytes !== p.literalBytes) throw fail(`part: raw payload of ${payloadBytes} bytes, literalBytes is ${p.literalBytes}`);
  if (p.deflated && payloadBytes < 1) throw fail('part: deflated payload is empty');
}
