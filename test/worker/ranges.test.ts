// Multi-range reads and manifests through the app (fs store): what a pull
// reads, parsed by the client's own parser (core/protocol/byteranges.ts).
import { describe, expect, it } from 'vitest';
import { byteRangeParts, DEFLATE_RAW, RANGE_ENCODING_HEADER, rangeHeader } from '../../core/protocol/byteranges.js';
import { inflateRawSync } from 'node:zlib';
import { toHex } from '../../core/protocol/hex.js';
import { decodeManifest, decodeShortManifest } from '../../core/protocol/manifest.js';
import { multipartResponse, parseRanges } from '../../worker/ranges.js';
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

  it('should close a store read that opens after its answer was canceled (a client gone meanwhile)', async () => {
    let opened = 0;
    let closed = 0;
    let open!: () => void;
    let asked!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const reading = new Promise<void>((r) => (asked = r));
    const version = {
      info: { id: 'v-1', size: 1000, time: 0 },
      read: async () => {
        asked();
        await gate;
        opened++;
        return new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(10)), cancel: () => void closed++ });
      },
    };
    const res = multipartResponse(version, [[{ start: 0, end: 9 }], [{ start: 500, end: 509 }]], {});
    const reader = res.body!.getReader();
    const first = reader.read(); // asks for the first part
    await reading; // the store read is opening
    await reader.cancel('client gone');
    open();
    await first;
    await new Promise((r) => setImmediate(r));
    expect({ opened, closed }).toEqual({ opened: 1, closed: 1 });
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

  it('should deflate a ranged answer when the client takes it and it pays (zlib inflates it to the plain answer), and not otherwise', async () => {
    // Text-like bytes (a few hundred words repeated in random order) deflate well; random bytes do not.
    const words = Array.from({ length: 300 }, (_, i) => `word${i * 7919} `);
    const picks = randomBytes(400_000, 8);
    const text = new TextEncoder().encode(Array.from(picks.subarray(0, 60_000), (b, i) => words[(b + i) % words.length]).join(''));
    const noise = randomBytes(text.length, 9);
    const app = await stored('text.txt', text);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${app.dir}/noise.bin`, noise);
    const spans = [
      { offset: 1000, length: 100_000 },
      { offset: 200_000, length: 50_000 },
    ];
    const ask = (key: string, deflate: boolean, range = rangeHeader(spans)) =>
      app.send(`/v1/files/${key}`, { headers: { range, ...(deflate ? { [RANGE_ENCODING_HEADER]: DEFLATE_RAW } : {}) } });

    const plain = await ask('text.txt', false);
    expect(plain.headers.get(RANGE_ENCODING_HEADER)).toBeNull();
    const plainBody = new Uint8Array(await plain.arrayBuffer());
    const deflated = await ask('text.txt', true);
    expect(deflated.status).toBe(206);
    expect(deflated.headers.get(RANGE_ENCODING_HEADER)).toBe(DEFLATE_RAW);
    expect(deflated.headers.get('content-length')).toBeNull();
    expect(deflated.headers.get('vary')).toContain(RANGE_ENCODING_HEADER);
    const wire = new Uint8Array(await deflated.arrayBuffer());
    expect(wire.length).toBeLessThan(plainBody.length / 2);
    // Same framing (the boundary names the version), same bytes: only the coding differs.
    expect(Buffer.from(inflateRawSync(wire)).equals(Buffer.from(plainBody))).toBe(true);
    const parts = byteRangeParts(deflated.headers.get('content-type'), null, inflateRawSync(wire));
    expect(parts.map((p) => [p.offset, p.bytes.length])).toEqual(spans.map((s) => [s.offset, s.length]));

    // One range: a plain 206, deflated the same way.
    const one = await ask('text.txt', true, 'bytes=5000-69999');
    expect(one.headers.get('content-range')).toBe(`bytes 5000-69999/${text.length}`);
    expect(Buffer.from(inflateRawSync(new Uint8Array(await one.arrayBuffer()))).equals(Buffer.from(text.subarray(5000, 70_000)))).toBe(true);

    // Random bytes do not pay: sent as they are, with their exact length.
    const random = await ask('noise.bin', true);
    expect(random.headers.get(RANGE_ENCODING_HEADER)).toBeNull();
    const randomBody = new Uint8Array(await random.arrayBuffer());
    expect(Number(random.headers.get('content-length'))).toBe(randomBody.length);
    expect(byteRangeParts(random.headers.get('content-type'), null, randomBody).map((p) => p.bytes.length)).toEqual([100_000, 50_000]);
    // A whole-file answer is never deflated.
    const whole = await app.send('/v1/files/text.txt', { headers: { [RANGE_ENCODING_HEADER]: DEFLATE_RAW } });
    expect(whole.status).toBe(200);
    expect(whole.headers.get(RANGE_ENCODING_HEADER)).toBeNull();
    await whole.body?.cancel(); // its file is closed now, not at garbage collection
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

  it('should serve readers only the chunkings stored, so readers cannot fill the slots a writer needs', async () => {
    const data = randomBytes(300_000, 8);
    const { send } = await stored('slots.bin', data);
    expect((await send('/v1/manifests/slots.bin')).status).toBe(200); // none stored: the default built once, stored
    for (const block of [1024, 2048, 4096, 8192, 16384]) {
      const res = await send(`/v1/manifests/slots.bin?chunking=fixed-${block}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('it has cdc-2048-8192-65536-1');
    }
    expect((await send('/v1/manifests/slots.bin?chunking=cdc-2048-8192-65536-1&digest=8')).status).toBe(200);
    // A writer's session with another chunking still finds a free slot (maxChunkingsPerVersion 4).
    const session = await send('/v1/sessions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'slots.bin', size: data.length, basis: 'slots.bin', chunking: { kind: 'fixed', block: 4096 } }),
    });
    expect(session.status).toBe(201);
  });
});

describe('short manifests', () => {
  it('should give lengths and digest prefixes only (no lengths for fixed blocks), for 4..32 bytes', async () => {
    const data = randomBytes(300_001, 7);
    const { send } = await stored('s.bin', data);
    const full = decodeManifest(new Uint8Array(await (await send('/v1/manifests/s.bin')).arrayBuffer()));
    for (const [query, perChunk] of [
      ['digest=8', 12],
      ['digest=32', 36],
    ] as const) {
      const res = await send(`/v1/manifests/s.bin?${query}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const short = decodeShortManifest(bytes);
      const want = full;
      expect(Array.from(short.lengths)).toEqual(Array.from(want.lengths));
      expect(bytes.length).toBe(40 + perChunk * want.lengths.length);
      for (let i = 0; i < want.lengths.length; i++) {
        const n = short.digestBytes;
        expect(toHex(short.digests.subarray(n * i, n * i + n))).toBe(toHex(want.hashes.subarray(32 * i, 32 * i + n)));
      }
    }
    expect((await send('/v1/manifests/s.bin?digest=3')).status).toBe(400);
    // Fixed blocks: no lengths, only the digest prefixes (the first chunking asked of a hand-placed file is built).
    const fixedApp = await stored('sf.bin', data);
    const fixedBytes = new Uint8Array(await (await fixedApp.send('/v1/manifests/sf.bin?chunking=fixed-4096&digest=32')).arrayBuffer());
    const fixed = decodeShortManifest(fixedBytes);
    expect(fixedBytes.length).toBe(40 + 32 * Math.ceil(data.length / 4096));
    expect(toHex(fixed.digests.subarray(32, 64))).toBe(toHex(kernels.blake3(data.subarray(4096, 8192))));
  });
});
