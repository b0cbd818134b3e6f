// sync() sends parts while its signature pass still runs: a real endpoint on
// loopback, a real worker pool, and a source whose tail cannot be read until
// a part has landed. A push that sent parts only after the pass would never
// see a part before that read (the gate then opens after GATE_MS so the test
// fails instead of hanging); the order of events is what is asserted, not
// any time. A push cut during the pass resumes its session without sending
// the parts that had landed again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool } from '../../../sdk/node/index.js';
import type { WorkerPool } from '../../../sdk/pool/pool.js';
import type { ThreadApi } from '../../../sdk/pool/thread-api.js';
import { MemoryResumeStore, resumeId, SAMPLE_BYTES } from '../../../sdk/push/resume.js';
import { bytesSource, type SyncSource } from '../../../sdk/source.js';
import { sync, type SyncLayout, type SyncOptions, type SyncProgress } from '../../../sdk/push/push.js';
import { serve, type ServeHandle } from '../../../worker/node/serve.js';
import { concat, randomBytes } from '../../support/bytes.js';

const KiB = 1024;
const MiB = 1 << 20;
/** Parts of 256 KiB (at least the CDC max of 64 KiB), read and hashed 256 KiB at a time. */
const PART = 256 * KiB;
const SEGMENT = 256 * KiB;
/** Only a fallback against a hang: a correct push opens the gate with its first part. */
const GATE_MS = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-early-'));
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

const stored = (key: string) => readFileSync(join(dir, key));
const equal = (a: Buffer, b: Uint8Array) => a.equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/** What a push did, in order: parts landing, the first read of the gated tail, the plan. */
type Event = { kind: 'part'; part: number } | { kind: 'tail'; landedBefore: number } | { kind: 'plan'; layout: SyncLayout };

/**
 * `bytes` as a source whose segment reads at or past `gateAt` wait for
 * `gate` (or, once, GATE_MS after the first such read). Reads of at most
 * SAMPLE_BYTES pass: the resume store's fingerprint samples the whole file.
 */
function gatedSource(bytes: Uint8Array, gateAt: number, gate: Promise<void>, events: Event[], landed: () => number): SyncSource {
  const inner = bytesSource(bytes);
  let tailSeen = false;
  let fallback: Promise<unknown> | undefined;
  return {
    size: bytes.length,
    async read(offset, length) {
      if (offset + length > gateAt && length > SAMPLE_BYTES) {
        fallback ??= new Promise((r) => setTimeout(r, GATE_MS));
        await Promise.race([gate, fallback]);
        if (!tailSeen) events.push({ kind: 'tail', landedBefore: landed() });
        tailSeen = true;
      }
      return inner.read(offset, length);
    },
  };
}

/** Counts part uploads in flight at once (the largest number seen). */
function countingFetch(): { fetch: typeof fetch; most: () => number } {
  let now = 0;
  let most = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const part = init?.method === 'PUT' && /\/parts\/\d+$/.test(String(input));
    if (part) most = Math.max(most, ++now);
    try {
      return await fetch(input, init);
    } finally {
      if (part) now--;
    }
  };
  return { fetch: wrapped, most: () => most };
}

async function pushGated(key: string, bytes: Uint8Array, gateAt: number, extra: Partial<SyncOptions> = {}) {
  const events: Event[] = [];
  let landed = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const counting = countingFetch();
  const result = await sync(
    gatedSource(bytes, gateAt, gate, events, () => landed),
    {
      endpoint: server.url,
      key,
      pool,
      segmentSize: SEGMENT,
      fetch: counting.fetch,
      onPart: (part) => {
        landed++;
        events.push({ kind: 'part', part });
        open();
      },
      onPlan: (layout) => events.push({ kind: 'plan', layout }),
      ...extra,
    },
  );
  return { result, events, mostParts: counting.most() };
}

describe('sync: parts while the signature pass runs', () => {
  it('should land a part of a literal region early in the file before the pass reads the rest', async () => {
    const v1 = randomBytes(4 * MiB, 1);
    await sync(bytesSource(v1), { endpoint: server.url, key: 'early.bin', pool, segmentSize: SEGMENT });
    // 1 MiB of new bytes first, then the old file: the pass may read the first 2 MiB freely.
    const v2 = concat(randomBytes(MiB, 2), v1);
    const { result, events, mostParts } = await pushGated('early.bin', v2, 2 * MiB, { partConcurrency: 1 });
    expect(equal(stored('early.bin'), v2)).toBe(true);
    expect(result.literalBytes).toBeGreaterThanOrEqual(MiB);
    expect(result.literalBytes).toBeLessThan(MiB + 200 * KiB);

    const tail = events.findIndex((e) => e.kind === 'tail');
    const plan = events.findIndex((e) => e.kind === 'plan');
    const first = events.findIndex((e) => e.kind === 'part');
    expect(tail).toBeGreaterThan(0);
    expect(events[tail]).toMatchObject({ landedBefore: expect.any(Number) });
    expect((events[tail] as { landedBefore: number }).landedBefore).toBeGreaterThan(0);
    expect(first).toBeLessThan(tail);
    expect(events[first]).toEqual({ kind: 'part', part: 0 });
    // The layout says which parts had landed by the plan (their onPart came before), and every part lands once.
    const layout = (events[plan] as { layout: SyncLayout }).layout;
    const before = events
      .slice(0, plan)
      .filter((e) => e.kind === 'part')
      .map((e) => (e as { part: number }).part);
    expect(
      layout.parts
        .filter((p) => p.landed)
        .map((p) => p.part)
        .sort(),
    ).toEqual(before.sort());
    const all = events
      .filter((e) => e.kind === 'part')
      .map((e) => (e as { part: number }).part)
      .sort((a, b) => a - b);
    expect(all).toEqual(layout.parts.map((p) => p.part));
    // Early and later parts share the partConcurrency bound: one body in flight at a time.
    expect(mostParts).toBe(1);
  });

  it('should resume a push cut during the pass without sending the parts that landed again', async () => {
    const v1 = randomBytes(4 * MiB, 3);
    await sync(bytesSource(v1), { endpoint: server.url, key: 'resumable.bin', pool, segmentSize: SEGMENT });
    const v2 = concat(randomBytes(MiB, 4), v1);
    const resume = new MemoryResumeStore();
    // Cut as the first part lands: the tail of the file has not been read, so the pass had not ended.
    const abort = new AbortController();
    const before: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const cut = sync(
      gatedSource(v2, 2 * MiB, gate, [], () => before.length),
      {
        endpoint: server.url,
        key: 'resumable.bin',
        pool,
        segmentSize: SEGMENT,
        partConcurrency: 1,
        resume,
        signal: abort.signal,
        onPart: (part) => {
          before.push(part);
          abort.abort('test cut');
          open();
        },
      },
    );
    await expect(cut).rejects.toMatchObject({ code: 'ABORTED' });
    expect(before).toEqual([0]);
    const record = (await resume.get(resumeId(server.url, 'resumable.bin')))!;
    expect(await resume.getSignature(record.id)).toBeUndefined();
    expect(record.session?.pass?.batches.length).toBeGreaterThan(0);
    expect(record.session?.pass?.batches[0][0]).toBe(0);
    // For a "resume?" prompt: literal bytes found so far, and those that landed.
    expect(record.session!.literalBytes).toBeGreaterThanOrEqual(PART);
    expect(record.session!.landedBytes).toBeGreaterThan(0);

    const after: number[] = [];
    let layout: SyncLayout | undefined;
    let last: SyncProgress | undefined;
    const result = await sync(bytesSource(v2), {
      endpoint: server.url,
      key: 'resumable.bin',
      pool,
      segmentSize: SEGMENT,
      resume,
      onPart: (part) => after.push(part),
      onPlan: (l) => (layout = l),
      onProgress: (p) => (last = p),
    });
    expect(equal(stored('resumable.bin'), v2)).toBe(true);
    expect(last).toMatchObject({ resumed: true, cached: false });
    expect(last!.resumedBytes).toBeGreaterThan(0);
    expect(last!.literalBytesSent).toBe(result.literalBytes - last!.resumedBytes);
    // Part 0 landed before the cut and is not sent again; the resumed push sends all the others, once.
    expect(after).not.toContain(0);
    expect([...before, ...after].sort((a, b) => a - b)).toEqual(layout!.parts.map((p) => p.part));
    expect(layout!.parts[0].landed).toBe(true);
    expect((await resume.get(resumeId(server.url, 'resumable.bin')))?.session).toBeUndefined();
  });

  it("should keep today's order in place: no part before the plan", async () => {
    const v1 = randomBytes(3 * MiB, 5);
    await sync(bytesSource(v1), { endpoint: server.url, key: 'inplace.bin', pool, segmentSize: SEGMENT });
    const v2 = concat(randomBytes(MiB, 6), v1);
    const events: Event[] = [];
    await sync(bytesSource(v2), {
      endpoint: server.url,
      key: 'inplace.bin',
      pool,
      segmentSize: SEGMENT,
      inPlace: true,
      onPart: (part) => events.push({ kind: 'part', part }),
      onPlan: (layout) => events.push({ kind: 'plan', layout }),
    });
    expect(equal(stored('inplace.bin'), v2)).toBe(true);
    expect(events[0].kind).toBe('plan');
    expect(events.length).toBeGreaterThan(1);
  });
});
