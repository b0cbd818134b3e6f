// A push of a Blob, as a browser pushes a picked File, against a real endpoint
// on loopback: what it costs the calling thread, counted instead of timed.
// The signature pass reads in the pool's workers and parts go as Blob slices,
// so the calling thread reads only each part's 64 KiB deflate sample (and the
// resume fingerprint's 1 MiB); the resume store gets the signature once, not
// with every record write.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool } from '../../../sdk/node/index.js';
import type { WorkerPool } from '../../../sdk/pool/pool.js';
import type { ThreadApi } from '../../../sdk/pool/thread-api.js';
import { MemoryResumeStore, SAMPLE_BYTES, SAMPLE_WINDOWS } from '../../../sdk/push/resume.js';
import { blobSource, type SyncSource } from '../../../sdk/source.js';
import { sync } from '../../../sdk/push/push.js';
import { serve, type ServeHandle } from '../../../worker/node/serve.js';
import { randomBytes } from '../../support/bytes.js';

const MiB = 1 << 20;
const PART = MiB;
const SIZE = 12 * MiB;

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-blob-push-'));
let server: ServeHandle;
let pool: WorkerPool<ThreadApi>;

beforeAll(async () => {
  server = await serve({ dir, port: 0, limits: { partSize: PART } });
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A Blob source that counts what the calling thread reads of it and the slices it sends. */
function counted(bytes: Uint8Array): SyncSource & { reads: number; readBytes: number; slices: number } {
  const inner = blobSource(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  const source = {
    ...inner,
    reads: 0,
    readBytes: 0,
    slices: 0,
    async read(offset: number, length: number) {
      const b = await inner.read(offset, length);
      source.reads++;
      source.readBytes += b.length;
      return b;
    },
    slice(offset: number, length: number) {
      source.slices++;
      return inner.slice!(offset, length);
    },
  };
  return source;
}

/** fetch that counts requests by the last segment of their path (match, parts, plan, ...). */
function countingFetch(counts: Map<string, number>): typeof fetch {
  return (input, init) => {
    const what = new URL(String(input instanceof Request ? input.url : input)).pathname
      .split('/')
      .filter((s) => !/^\d+$/.test(s))
      .pop()!;
    counts.set(what, (counts.get(what) ?? 0) + 1);
    return fetch(input, init);
  };
}

describe('a push that fails', () => {
  it('should abort its other part uploads, not leave them running after it rejects', async () => {
    const bytes = randomBytes(6 * MiB, 12);
    const held: AbortSignal[] = [];
    // Part 1 is refused; every other part's request is held until its signal aborts.
    const faulty: typeof fetch = async (input, init) => {
      const path = new URL(String(input instanceof Request ? input.url : input)).pathname;
      const part = /\/parts\/(\d+)$/.exec(path);
      if (!part) return fetch(input, init);
      if (part[1] === '1') {
        // Refused once another part is in flight: a refusal before any other part started would leave nothing to abort.
        for (let waited = 0; held.length === 0 && waited < 10_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
        return Response.json({ error: { code: 'INVALID_PLAN', message: 'refused by the test' } }, { status: 400 });
      }
      const signal = init!.signal!;
      held.push(signal);
      return new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    };
    const pushed = sync(blobSource(new Blob([bytes as Uint8Array<ArrayBuffer>])), {
      endpoint: server.url,
      key: 'fails.bin',
      pool,
      fetch: faulty,
      partConcurrency: 3,
    });
    await expect(pushed).rejects.toMatchObject({ code: 'INVALID_PLAN' });
    expect(held.length).toBeGreaterThan(0);
    expect(held.filter((s) => !s.aborted)).toEqual([]);
  });
});

describe("a push of a Blob (a browser's File)", () => {
  it('should send parts as slices, reading on the calling thread only the deflate samples and the fingerprint', async () => {
    const bytes = randomBytes(SIZE, 11);
    const source = counted(bytes);
    const resume = new MemoryResumeStore();
    const requests = new Map<string, number>();
    const r = await sync(source, { endpoint: server.url, key: 'blob.bin', pool, resume, fetch: countingFetch(requests) });
    expect(readFileSync(join(dir, 'blob.bin')).equals(Buffer.from(bytes))).toBe(true);
    expect(r.literalBytes).toBe(SIZE);
    const parts = requests.get('parts')!;
    expect(parts).toBeGreaterThanOrEqual(SIZE / PART);
    // Per part one sample; the fingerprint twice (when the push starts, and before its commit).
    expect(source.readBytes).toBeLessThanOrEqual(parts * 64 * 1024 + 2 * SAMPLE_WINDOWS * SAMPLE_BYTES);
    expect(source.slices).toBeGreaterThanOrEqual(parts);
    // The signature once; the record per batch, part (at most) and phase, never per chunk.
    expect(resume.writes.signatures).toBe(1);
    expect(resume.writes.records).toBeLessThanOrEqual(requests.get('match')! + parts + 6);
  });
});
