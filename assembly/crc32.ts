// CRC-32/ISO-HDLC, zlib's crc32: reflected polynomial 0xEDB88320, initial and
// final XOR 0xFFFFFFFF. crc32Update(0, "123456789") = 0xCBF43926.
// (First version: one table, one byte per step. To be replaced by a faster one.)

const POLY: u32 = 0xedb88320;
const TABLE = memory.data(256 * 4, 16);
let ready = false;

function init(): void {
  for (let n: u32 = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLY ^ (c >>> 1) : c >>> 1;
    store<u32>(TABLE + (<usize>n << 2), c);
  }
  ready = true;
}

/** zlib's crc32(crc, buf, len): continues `crc` over `len` bytes at `ptr`. */
export function crc32Update(crc: u32, ptr: usize, len: usize): u32 {
  if (!ready) init();
  let c = ~crc;
  for (let i: usize = 0; i < len; i++) {
    c = load<u32>(TABLE + (<usize>((c ^ load<u8>(ptr + i)) & 0xff) << 2)) ^ (c >>> 8);
  }
  return ~c;
}
