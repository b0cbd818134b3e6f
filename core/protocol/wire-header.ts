// The header every binary message of protocol v1 starts with: "DF", the
// protocol version, a type byte (docs/protocol.md). wire.ts and wire-part.ts
// frame their messages with it.
import { DeltaflareError } from '../base/errors.js';
import { Reader, type Writer, malformed } from './bytes.js';
import { PROTOCOL_VERSION } from './messages.js';

/** Message type, byte 3 of the header. */
export const MessageType = { signatures: 1, matches: 2, plan: 3, part: 4 } as const;
export type MessageTypeName = keyof typeof MessageType;

export function writeHeader(w: Writer, type: MessageTypeName): void {
  w.u8(0x44); // 'D'
  w.u8(0x46); // 'F'
  w.u8(PROTOCOL_VERSION);
  w.u8(MessageType[type]);
}

/** Checks magic and version; returns the type byte. */
function readType(r: Reader): number {
  if (r.bytes.length < 4) throw malformed(`${r.what}: ${r.bytes.length} bytes, the header needs 4`);
  if (r.u8('magic') !== 0x44 || r.u8('magic') !== 0x46) throw malformed(`${r.what}: magic is not "DF"`);
  const version = r.u8('version');
  if (version !== PROTOCOL_VERSION) {
    throw new DeltaflareError('UNSUPPORTED_VERSION', `${r.what}: protocol version ${version}, this build speaks ${PROTOCOL_VERSION}`);
  }
  return r.u8('type');
}

export function readHeader(r: Reader, type: MessageTypeName): void {
  const t = readType(r);
  if (t !== MessageType[type]) throw malformed(`${r.what}: message type ${t}, expected ${MessageType[type]} (${type})`);
}

/** The type of a binary message, after checking magic and version (for dispatch). @example messageType(body) === 'part' */
export function messageType(bytes: Uint8Array): MessageTypeName {
  const t = readType(new Reader(bytes, 'message'));
  const name = (Object.keys(MessageType) as MessageTypeName[]).find((k) => MessageType[k] === t);
  if (!name) throw malformed(`message: unknown type ${t}`);
  return name;
}
