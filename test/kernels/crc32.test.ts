import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Kernels, init } from '../../sdk/kernels/index.js';

const builds: Record<string, Kernels> = {};
beforeAll(async () => {
  builds.simd = await init({ simd: true });
  builds.scalar = await init({ simd: false });
});

describe.each(['simd', 'scalar'])('crc32 (%s build)', (name) => {
  const k = () => builds[name];

  it('should give the CRC-32/ISO-HDLC check value for "123456789"', () => {
    expect(k().crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('should equal zlib.crc32 for every length 0..300 and for 5 MiB', () => {
    const data = randomBytes(5 << 20);
    for (let n = 0; n <= 300; n++) expect(k().crc32(data.subarray(0, n))).toBe(zlib.crc32(data.subarray(0, n)));
    expect(k().crc32(data)).toBe(zlib.crc32(data));
  });
});
