// Hex forms of digests and tokens, as JSON messages, session records and
// upload tokens carry them; both sides import this one place.

/** Lowercase hex of bytes. @example toHex(new Uint8Array([1, 255])) === '01ff' */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}

/** A CRC32 as 8 lowercase hex digits. @example hex32(0xcbf43926) === 'cbf43926' */
export const hex32 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** `bytes` random bytes (Web Crypto) as lowercase hex: ids of sessions, staging areas and versions. */
export function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** Bytes of a lowercase hex string (even length, checked by the caller). */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
