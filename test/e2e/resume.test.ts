// Resumable pushes on Node: a real endpoint on loopback, push() with a
// MemoryResumeStore, interrupted by the caller's AbortSignal once some parts
// have landed (the browser tests cut the connection instead). 1 MiB parts,
// so a 12 MiB file has 12 of them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, discard, type Metadata, push, type SyncProgress } from '../../sdk/node/index.js';
import type { SyncLayout } from '../../sdk/push/push.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { MemoryResumeStore, resumeId } from '../../sdk/push/resume.js';
import { serve, type ServeHandle } from '../../worker/node/serve.js';
import { randomBytes } from '../support/bytes.js';

const PART = 1 << 20;
const CONCURRENCY = 2;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-resume-'));
const store = join(dir, 'store');
let server: ServeHandle;
let pool: WorkerPool<ThreadApi>;

beforeAll(async () => {
  server = await serve({ dir: store, port: 0, limits: { partSize: PART } });
  pool = await createNodePool(2);
});
afterAll(async () => {
  pool?.terminate();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seed = 7;

const same = (key: string, bytes: Uint8Array) => readFileSync(join(store, key)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));

/** Pushes `path`, aborting once `parts` parts have landed; returns how many had. */
async function pushAndAbort(path: string, key: string, resume: MemoryResumeStore, parts: number, metadata?: Metadata): Promise<number> {
  const abort = new AbortController();
  let landed = 0;
  const onPart = () => ++landed === parts && abort.abort('test cut');
  await expect(push(path, { endpoint: server.url, key, pool, resume, signal: abort.signal, onPart, concurrency: CONCURRENCY, metadata })).rejects.toMatchObject(
    {
      code: 'ABORTED',
    },
  );
  return landed;
}

/** Pushes `path` to the end and returns the last progress report with the result. */
async function pushToEnd(path: string, key: string, resume: MemoryResumeStore, metadata?: Metadata) {
  let last: SyncProgress | undefined;
  const result = await push(path, { endpoint: server.url, key, pool, resume, concurrency: CONCURRENCY, metadata, onProgress: (p) => (last = p) });
  return { result, last: last! };
}

describe('resumable push', () => {
  it('should resume a first upload (no basis) and send only the parts that had not landed', async () => {
    const bytes = randomBytes(12 * PART, seed++);
    const path = join(dir, 'first.bin');
    writeFileSync(path, bytes);
    const resume = new MemoryResumeStore();
    const landed = await pushAndAbort(path, 'first.bin', resume, 4);
    expect((await resume.get(resumeId(server.url, 'first.bin')))?.session).toBeDefined();

    const { result, last } = await pushToEnd(path, 'first.bin', resume);
    expect(same('first.bin', bytes)).toBe(true);
    expect(last.resumed).toBe(true);
    expect(last.cached).toBe(true); // not hashed again
    // A part holds whole chunks: at least PART minus one max-size chunk (64 KiB).
    expect(last.resumedBytes).toBeGreaterThanOrEqual(landed * (PART - 65536));
    // Nothing that landed is sent again: what is re-sent is only the parts in
    // flight at the cut (at most CONCURRENCY, each at most one part).
    expect(last.literalBytesSent).toBe(result.literalBytes - last.resumedBytes);
    expect((await resume.get(resumeId(server.url, 'first.bin')))?.session).toBeUndefined();
  });

  it('should resume a delta upload against its basis', async () => {
    const v1 = randomBytes(12 * PART, seed++);
    const path = join(dir, 'delta.bin');
    writeFileSync(path, v1);
    const resume = new MemoryResumeStore();
    await pushToEnd(path, 'delta.bin', resume);
    const v2 = v1.slice();
    for (let i = 0; i < 6; i++) v2.set(randomBytes(PART, seed++), 2 * i * PART + 12345);
    writeFileSync(path, v2);
    await pushAndAbort(path, 'delta.bin', resume, 2);
    const { result, last } = await pushToEnd(path, 'delta.bin', resume);
    expect(same('delta.bin', v2)).toBe(true);
    expect(last.resumed).toBe(true);
    expect(result.literalBytes).toBeLessThan(v2.length * 0.7);
  });

  it('should not hash an unchanged file again', async () => {
    const bytes = randomBytes(3 * PART, seed++);
    const path = join(dir, 'again.bin');
    writeFileSync(path, bytes);
    const resume = new MemoryResumeStore();
    expect((await pushToEnd(path, 'again.bin', resume)).last.cached).toBe(false);
    const { result, last } = await pushToEnd(path, 'again.bin', resume);
    expect(last.cached).toBe(true);
    expect(last.resumed).toBe(false);
    expect(result.literalBytes).toBe(0);
  });

  it('should detect a file changed while paused, recompute the plan and commit the new content', async () => {
    const v1 = randomBytes(8 * PART, seed++);
    const path = join(dir, 'changed.bin');
    writeFileSync(path, v1);
    const resume = new MemoryResumeStore();
    await pushAndAbort(path, 'changed.bin', resume, 2);
    const oldSession = (await resume.get(resumeId(server.url, 'changed.bin')))!.session!.id;
    const v2 = randomBytes(8 * PART, seed++);
    writeFileSync(path, v2);
    const { last } = await pushToEnd(path, 'changed.bin', resume);
    expect(last.resumed).toBe(false);
    expect(last.cached).toBe(false);
    expect(same('changed.bin', v2)).toBe(true);
    const gone = await fetch(`${server.url}/v1/sessions/${oldSession}`);
    expect(gone.status).toBe(404);
  });

  it('should refuse to commit a file that changed during the push', async () => {
    const v1 = randomBytes(6 * PART, seed++);
    const path = join(dir, 'racing.bin');
    writeFileSync(path, v1);
    const resume = new MemoryResumeStore();
    let parts = 0,
      landed = 0;
    // After the last part: every byte sent matched its signature, so only the check before the commit can tell.
    const onPlan = (layout: SyncLayout) => (parts = layout.parts.length);
    const onPart = () => ++landed === parts && writeFileSync(path, randomBytes(6 * PART, seed++));
    await expect(push(path, { endpoint: server.url, key: 'racing.bin', pool, resume, onPlan, onPart })).rejects.toMatchObject({ code: 'SOURCE_CHANGED' });
    const head = await fetch(`${server.url}/v1/files/racing.bin`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('should discard an unfinished push: its session deleted on the endpoint, its record forgotten', async () => {
    const bytes = randomBytes(12 * PART, seed++);
    const path = join(dir, 'discarded.bin');
    writeFileSync(path, bytes);
    const resume = new MemoryResumeStore();
    await pushAndAbort(path, 'discarded.bin', resume, 3);
    const record = await resume.get(resumeId(server.url, 'discarded.bin'));
    const sessionId = record!.session!.id;
    expect((await fetch(`${server.url}/v1/sessions/${encodeURIComponent(sessionId)}`)).status).toBe(200);
    expect(await discard(resume, { endpoint: server.url, key: 'discarded.bin' })).toBe(true);
    expect(await resume.get(resumeId(server.url, 'discarded.bin'))).toBeUndefined();
    expect((await fetch(`${server.url}/v1/sessions/${encodeURIComponent(sessionId)}`)).status).toBe(404);
    expect(await discard(resume, { endpoint: server.url, key: 'discarded.bin' })).toBe(false);
  });

  it('should resume a push only with the metadata it was opened with: other metadata opens a new session', async () => {
    const bytes = randomBytes(8 * PART, seed++);
    const path = join(dir, 'meta.bin');
    writeFileSync(path, bytes);
    const resume = new MemoryResumeStore();
    const sessionOf = async () => (await resume.get(resumeId(server.url, 'meta.bin')))?.session?.id;

    await pushAndAbort(path, 'meta.bin', resume, 3, { owner: 'ana', build: '1' });
    const first = await sessionOf();
    await pushAndAbort(path, 'meta.bin', resume, 5, { build: '1', owner: 'ana' }); // the same pairs, in another order
    expect(await sessionOf()).toBe(first);

    const { result, last } = await pushToEnd(path, 'meta.bin', resume, { owner: 'bo' });
    expect(last.resumed).toBe(false);
    expect(result.literalBytes).toBe(bytes.length);
    expect((await fetch(`${server.url}/v1/sessions/${encodeURIComponent(first!)}`)).status).toBe(404); // the old one deleted, not left to expire
    const head = await fetch(`${server.url}/v1/files/meta.bin`, { method: 'HEAD' });
    expect(JSON.parse(decodeURIComponent(head.headers.get('x-deltaflare-metadata')!))).toEqual({ owner: 'bo' });
    expect(same('meta.bin', bytes)).toBe(true);
  });
});
