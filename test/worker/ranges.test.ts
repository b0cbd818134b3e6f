// Multi-range reads and manifests through the app (fs store): what a pull
// reads, parsed by the client's own parser (sdk/protocol/byteranges.ts).
import { describe, expect, it } from 'vitest';
import { byteRangeParts, rangeHeader } from '../../sdk/protocol/byteranges.js';
import { toHex } from '../../sdk/protocol/hex.js';
import { decodeManifest, decodeShortManifest } from '../../sdk/protocol/manifest.js';
import { parseRanges } from '../../worker/ranges.js';
import { kernels, makeApp, randomBytes } from './setup.js';

/** An app with `data` stored at `key` (a plain file: the store serves it as a hand-placed version). */
async function stored(key: string, data: Uint8Array) {
  const app = await makeApp();
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${app.dir}/${key}`, data);
  return app;
}

describe('multi-range reads', () => {
  it('should sort and merge ranges, drop those past the end, and refuse more than 1024', () => {
    expect(parseRanges('bytes=50-59,0-9,5-14,15-19,200-300', 100)).toEqual([
      { start: 0, end: 19 },
      { start: 50, end: 59 },
    ]);
    expect(parseRanges('bytes=0-9', 100)).toBeNull(); // one range: parseRange serves it
    expect(parseRanges('bytes=0-9,x', 100)).toBeNull(); // bad syntax: the whole file
    expect(() => parseRanges('bytes=200-300,400-', 100)).toThrow(/holds no byte/);
    expect(() => parseRanges(`bytes=${Array.from({ length: 1025 }, (_, i) => `${2 * i}-${2 * i}`).join(',')}`, 1e6)).toThrow(/above the limit 1024/);
  });

  it('should answer multipart/byteranges with an exact length, each part the file bytes at its Content-Range', async () => {
    const data = randomBytes(300_000, 5);
    const { send } = await stored('m.bin', data);
    const spans = [
      { offset: 250_000, length: 4096 },
      { offset: 0, length: 100 },
      { offset: 100, length: 50 }, // adjacent to the one before: merged
      { offset: 123_456, length: 1 },
    ];
    const res = await send('/v1/files/m.bin', { headers: { range: rangeHeader(spans) } });
    expect(res.status).toBe(206);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expect(new TextDecoder().decode(body.subarray(0, 4))).toBe('\r\n--'); // every delimiter after a CRLF, the first too
    const parts = byteRangeParts(res.headers.get('content-type'), null, body);
    expect(parts.map((p) => [p.offset, p.bytes.length])).toEqual([
      [0, 150],
      [123_456, 1],
      [250_000, 4096],
    ]);
    for (const p of parts) expect(Buffer.from(p.bytes).equals(Buffer.from(data.subarray(p.offset, p.offset + p.bytes.length)))).toBe(true);
  });

  it('should serve a manifest that names its version and root, under the chunking asked for', async () => {
    const data = randomBytes(200_000, 6);
    const { send } = await stored('f.bin', data);
    const res = await send('/v1/manifests/f.bin?chunking=fixed-4096');
    expect(res.status).toBe(200);
    const m = decodeManifest(new Uint8Array(await res.arrayBuffer()));
    expect(m.chunking).toEqual({ kind: 'fixed', block: 4096 });
    expect(m.size).toBe(data.length);
    expect(res.headers.get('x-deltaflare-root')).toBe(toHex(kernels.blake3(m.hashes)));
    expect(toHex(m.hashes.subarray(32, 64))).toBe(toHex(kernels.blake3(data.subarray(4096, 8192))));
    const head = await send('/v1/files/f.bin', { method: 'HEAD' });
    expect(res.headers.get('x-deltaflare-version')).toBe(head.headers.get('x-deltaflare-version'));
    expect((await send('/v1/manifests/none.bin')).status).toBe(404);
    expect((await send('/v1/manifests/f.bin?chunking=zigzag')).status).toBe(400);
  });
});

describe('short manifests', () => {
  it('should give lengths and digest prefixes only (no lengths for fixed blocks), for 4..32 bytes', async () => {
    const data = randomBytes(300_001, 7);
    const { send } = await stored('s.bin', data);
    const full = decodeManifest(new Uint8Array(await (await send('/v1/manifests/s.bin')).arrayBuffer()));
    for (const [query, perChunk] of [
      ['digest=8', 12],
      ['digest=32&chunking=fixed-4096', 32],
    ] as const) {
      const res = await send(`/v1/manifests/s.bin?${query}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const short = decodeShortManifest(bytes);
      const want = query.includes('fixed') ? decodeManifest(new Uint8Array(await (await send('/v1/manifests/s.bin?chunking=fixed-4096')).arrayBuffer())) : full;
      expect(Array.from(short.lengths)).toEqual(Array.from(want.lengths));
      expect(bytes.length).toBe(40 + perChunk * want.lengths.length);
      for (let i = 0; i < want.lengths.length; i++) {
        const n = short.digestBytes;
        expect(toHex(short.digests.subarray(n * i, n * i + n))).toBe(toHex(want.hashes.subarray(32 * i, 32 * i + n)));
      }
    }
    expect((await send('/v1/manifests/s.bin?digest=3')).status).toBe(400);
  });
});
