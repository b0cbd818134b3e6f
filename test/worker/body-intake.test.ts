// Bodies and the byte budget: a client that stalls half-way through its
// body must not hold the budget from everyone else. With the Node server's
// spool it does not (its bytes wait in a file); without one (Workers) it
// does, as documented. Real streams, a real spool folder, and a real server
// on loopback with a stalled raw HTTP upload beside a whole push.
import { readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNodePool, push } from '../../sdk/node/index.js';
import { DEFAULT_CHUNKING } from '../../core/protocol/chunking.js';
import { BodyIntake } from '../../worker/body-intake.js';
import { ByteBudget } from '../../core/base/byte-budget.js';
import { FsSpool } from '../../worker/node/spool.js';
import { serve } from '../../worker/node/serve.js';
import { META_DIR } from '../../worker/store/keys.js';
import { randomBytes, sameBytes, tempDir } from './setup.js';

const KiB = 1024;

/** A request whose body sends `first` bytes of `bytes`, then the rest once `go` resolves. */
function stalledRequest(bytes: Uint8Array, first: number, go: Promise<void>): Request {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sent) {
        sent = true;
        return c.enqueue(bytes.slice(0, first));
      }
      await go;
      c.enqueue(bytes.slice(first));
      c.close();
    },
  });
  return new Request('http://x/', { method: 'PUT', body, duplex: 'half', headers: { 'content-length': String(bytes.length) } } as RequestInit);
}

const whole = (bytes: Uint8Array) =>
  new Request('http://x/', { method: 'PUT', body: bytes as Uint8Array<ArrayBuffer>, headers: { 'content-length': String(bytes.length) } });

describe('BodyIntake', () => {
  it('should spool a stalled body so another one runs within the budget, then hand over the stalled body intact', async () => {
    const dir = join(tempDir(), 'spool');
    const intake = new BodyIntake(new ByteBudget(1 << 20), await FsSpool.open(dir), 50);
    const a = randomBytes(900 * KiB, 1);
    const b = randomBytes(900 * KiB, 2);
    let go!: () => void;
    const gone = new Promise<void>((r) => (go = r));
    const gotA = intake.run(stalledRequest(a, 100 * KiB, gone), 1 << 20, 'A', async (body) => sameBytes(body, a));
    await new Promise((r) => setTimeout(r, 20)); // A takes its share first
    // B runs while A stalls (a deadlock would fail the test by its timeout).
    expect(await intake.run(whole(b), 1 << 20, 'B', async (body) => sameBytes(body, b))).toBe('same');
    expect(readdirSync(dir)).toHaveLength(1); // A's bytes so far, on disk
    go();
    expect(await gotA).toBe('same');
    expect(readdirSync(dir)).toEqual([]);
    expect(intake.budget.tryTake(1 << 20)).toBe(true); // every byte given back
  });

  it('should keep the stalled body in memory, holding its share, when there is no spool (Workers)', async () => {
    const intake = new BodyIntake(new ByteBudget(1 << 20));
    const a = randomBytes(900 * KiB, 3);
    const b = randomBytes(900 * KiB, 4);
    let go!: () => void;
    const gotA = intake.run(stalledRequest(a, 100 * KiB, new Promise<void>((r) => (go = r))), 1 << 20, 'A', async (body) => sameBytes(body, a));
    await new Promise((r) => setTimeout(r, 20));
    let settled = false;
    const gotB = intake.run(whole(b), 1 << 20, 'B', async (body) => sameBytes(body, b)).finally(() => (settled = true));
    for (let turn = 0; turn < 20; turn++) await new Promise((r) => setImmediate(r)); // B's body read and queued behind A
    expect(settled).toBe(false);
    expect(intake.budget.tryTake(900 * KiB)).toBe(false); // A holds its share: B's does not fit beside it
    go();
    expect([await gotA, await gotB]).toEqual(['same', 'same']);
  });

  it('should refuse a spooled body past its limit with TOO_LARGE and remove its file', async () => {
    const dir = join(tempDir(), 'spool');
    const real = await FsSpool.open(dir);
    let created = 0;
    const intake = new BodyIntake(
      new ByteBudget(64 * KiB),
      {
        create: () => {
          created++;
          return real.create();
        },
      },
      50,
    );
    intake.budget.tryTake(64 * KiB); // the budget is busy: after 50 ms the body goes to the spool
    const big = randomBytes(300 * KiB, 5);
    // No Content-Length: counted at the limit, cut off there.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 300; i++) c.enqueue(big.slice(i * KiB, (i + 1) * KiB));
        c.close();
      },
    });
    const req = new Request('http://x/', { method: 'PUT', body, duplex: 'half' } as RequestInit);
    await expect(intake.run(req, 200 * KiB, 'part 7', async () => 'ran')).rejects.toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringContaining('part 7'),
    });
    expect(created).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('should fail the request, not the process, when the spool cannot take a body, and give its share back', async () => {
    const broken = { create: () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) };
    const intake = new BodyIntake(new ByteBudget(1 << 20), broken, 30);
    const a = randomBytes(900 * KiB, 8);
    let go!: () => void;
    // Holds its share, stalls, then its spill fails while it waits for more bytes.
    const gotA = intake.run(stalledRequest(a, 100 * KiB, new Promise<void>((r) => (go = r))), 1 << 20, 'A', async () => 'ran');
    await new Promise((r) => setTimeout(r, 100));
    go();
    await expect(gotA).rejects.toThrow('ENOSPC');
    expect(intake.budget.tryTake(1 << 20)).toBe(true);
  });
});

describe('endpoint with a stalled client', () => {
  const pools: Array<{ terminate(): void }> = [];
  afterAll(() => {
    for (const p of pools) p.terminate();
  });

  it("should land another client's whole push while one part upload sits stalled half-way, and spool nothing after", async () => {
    const dir = tempDir();
    const server = await serve({ dir, port: 0 });
    const url = new URL(server.url);
    try {
      // The stalled client: a session for an 8 MiB file and its part 0, of which 1 MiB is sent.
      const created = await fetch(`${server.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'slow.bin', size: 8 << 20, chunking: DEFAULT_CHUNKING }),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      const stalled = request({
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: `/v1/sessions/${id}/parts/0`,
        headers: { 'content-length': String((8 << 20) + 40) },
      });
      stalled.on('error', () => undefined);
      stalled.write(randomBytes(1 << 20, 6));
      await new Promise((r) => setTimeout(r, 100));

      // Another client pushes 24 MiB: three 8 MiB parts, each more than the 12 MiB budget leaves beside the stalled one.
      const data = randomBytes(24 << 20, 7);
      const file = join(dir, '..', 'other.bin');
      writeFileSync(file, data);
      const pool = await createNodePool(2);
      pools.push(pool);
      // It lands while the stalled part waits on disk (a deadlock would fail the test by its timeout).
      await push(file, { endpoint: server.url, key: 'other.bin', pool });
      expect(sameBytes(new Uint8Array(await (await fetch(`${server.url}/v1/files/other.bin`)).arrayBuffer()), data)).toBe('same');
      expect(readdirSync(join(dir, META_DIR, 'spool'))).toHaveLength(1); // the stalled part's first MiB
      stalled.destroy();
      await new Promise((r) => setTimeout(r, 200));
      expect(readdirSync(join(dir, META_DIR, 'spool'))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
