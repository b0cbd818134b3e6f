// Bounds-checked little-endian reads and writes for wire.ts. Reads name the
// field on failure; u64 values must fit in a JS number (2^53 - 1).
import { DeltaflareError } from '../base/errors.js';

const TWO32 = 2 ** 32;

/** `pieces` one after another in one array (the piece itself when there is one). */
export function concatBytes(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A MALFORMED error. */
export const malformed = (message: string): DeltaflareError => new DeltaflareError('MALFORMED', message);

/** Bounds-checked little-endian reads that name the field on failure. */
export class Reader {
  private readonly view: DataView;
  offset = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, field: string): void {
    if (this.offset + n > this.bytes.length) {
      throw malformed(`${this.what}: truncated at ${field} (offset ${this.offset} + ${n} > ${this.bytes.length} bytes)`);
    }
  }
  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.offset++);
  }
  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(field: string): number {
    this.need(8, field);
    const lo = this.view.getUint32(this.offset, true);
    const hi = this.view.getUint32(this.offset + 4, true);
    if (hi > 0x1fffff) throw malformed(`${this.what}: ${field} is above 2^53 - 1`);
    this.offset += 8;
    return hi * TWO32 + lo;
  }
  take(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  zeros(n: number, field: string): void {
    for (let i = 0; i < n; i++) if (this.u8(field) !== 0) throw malformed(`${this.what}: ${field} must be 0`);
  }
  end(): void {
    if (this.offset !== this.bytes.length) {
      throw malformed(`${this.what}: ${this.bytes.length - this.offset} trailing bytes after ${this.offset}`);
    }
  }
  /** Checks that exactly `n` bytes remain before allocating anything sized from counts. */
  expectRemaining(n: number, field: string): void {
    const left = this.bytes.length - this.offset;
    if (left !== n) throw malformed(`${this.what}: ${field} need ${n} more bytes, body has ${left}`);
  }
}

/** Little-endian writes into a buffer of known size. */
export class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;
  /** Writes into a new buffer of `size` bytes, or into `into` (exactly `size` bytes) when given. */
  constructor(size: number, into?: Uint8Array) {
    if (into && into.length !== size) throw new RangeError(`Writer: a buffer of ${into.length} bytes given for ${size}`);
    this.bytes = into ?? new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }
  u8(v: number): void {
    this.view.setUint8(this.offset++, v);
  }
  u16(v: number): void {
    this.view.setUint16(this.offset, v, true);
    this.offset += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.offset, v, true);
    this.offset += 4;
  }
  u64(v: number): void {
    this.view.setUint32(this.offset, v % TWO32, true);
    this.view.setUint32(this.offset + 4, Math.floor(v / TWO32), true);
    this.offset += 8;
  }
  zeros(n: number): void {
    this.bytes.fill(0, this.offset, this.offset + n);
    this.offset += n;
  }
  put(b: Uint8Array): void {
    this.bytes.set(b, this.offset);
    this.offset += b.length;
  }
}

/** An INVALID_ARGUMENT error (encoders given bad values). */
export const arg = (message: string): DeltaflareError => new DeltaflareError('INVALID_ARGUMENT', message);
/** Throws `fail(...)` unless v is an integer in lo..hi, naming the field and the range. */
export function checkInt(field: string, v: number, lo: number, hi: number, fail: (m: string) => DeltaflareError): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw fail(`${field} ${v} is outside ${lo}..${hi}`);
}
