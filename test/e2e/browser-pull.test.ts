// Pulling in real Chromium: a page (test/e2e/pull-page, built by Vite, served
// by the same `deltaflare serve` as the endpoint) keeps its copy of a file in
// the origin private file system and pulls the versions another client
// pushed: a download into nothing, an update fetching only an insert, a
// damaged answer refused with the copy unchanged, a copy edited by another
// writer during the pull left as they wrote it, and a pull cut mid-way,
// the page reloaded, then resumed without fetching again what landed.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodePool, push } from '../../sdk/node/index.js';
import type { WorkerPool } from '../../sdk/pool/pool.js';
import type { ThreadApi } from '../../sdk/pool/thread-api.js';
import { serve, type ServeHandle } from '../../worker/node/serve.js';
import { concat, randomBytes } from '../support/bytes.js';
import { buildPage } from '../support/build-page.js';
import { launchChromium } from '../support/chromium.js';
import type { Pulled, Pushed } from './pull-page/main.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-browser-pull-'));
const built = join(dir, 'page');
let server: ServeHandle;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
let pool: WorkerPool<ThreadApi>;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  await buildPage(join(import.meta.dirname, 'pull-page'), built);
  server = await serve({ dir: join(dir, 'store'), port: 0, static: built });
  pool = await createNodePool(2);
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`chromium: ${e.message}\n`));
  await page.goto(`${server.url}/`);
  await page.waitForFunction(() => 'pullNow' in window);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  pool?.terminate();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Another client's push of `bytes` to `key`. */
async function publish(key: string, bytes: Uint8Array): Promise<void> {
  const path = join(dir, `pushed-${key}`);
  writeFileSync(path, bytes);
  await push(path, { endpoint: server.url, key, pool });
}

const pullNow = (key: string, name: string, o: { damage?: boolean; cutAfter?: number } = {}) =>
  page.evaluate(`pullNow(${JSON.stringify(key)}, ${JSON.stringify(name)}, ${JSON.stringify(o)})`) as Promise<Pulled>;
const digestOf = (name: string) => page.evaluate(`digestOf(${JSON.stringify(name)})`) as Promise<string | null>;
const partialOf = (name: string) => page.evaluate(`partialOf(${JSON.stringify(name)})`) as Promise<string | null>;

describe('pull into the origin private file system', () => {
  it('should download into nothing, then fetch only an insert, byte for byte', async () => {
    const v1 = randomBytes(5 << 20, 31);
    await publish('data.bin', v1);
    const first = await pullNow('data.bin', 'data.bin');
    expect(first.error).toBeUndefined();
    expect(first.result!.fetchedBytes).toBe(v1.length);
    expect(await digestOf('data.bin')).toBe(sha(v1));

    const v2 = concat(v1.subarray(0, 2 << 20), randomBytes(200_000, 32), v1.subarray(2 << 20));
    await publish('data.bin', v2);
    const second = await pullNow('data.bin', 'data.bin');
    expect(second.error).toBeUndefined();
    expect(second.result!.fetchedBytes).toBeLessThan(200_000 + 200_000);
    // The chunks the insert cut into, rebuilt from the copy's blocks before and after it.
    expect(second.result!.blockBytes).toBeGreaterThan(0);
    expect(second.result!.copiedBytes + second.result!.blockBytes + second.result!.fetchedBytes).toBe(v2.length);
    expect(await digestOf('data.bin')).toBe(sha(v2));
    expect(await partialOf('data.bin')).toBeNull();
  });

  it('should refuse a damaged range and keep the copy it had', async () => {
    const before = await digestOf('data.bin');
    await publish('data.bin', concat(randomBytes(100_000, 33), randomBytes(3 << 20, 34)));
    const damaged = await pullNow('data.bin', 'data.bin', { damage: true });
    expect(damaged.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(await digestOf('data.bin')).toBe(before);
  });

  it('should not replace a copy another writer edits during the pull', async () => {
    const v1 = randomBytes(6 << 20, 36);
    await publish('edited.bin', v1);
    expect((await pullNow('edited.bin', 'edited.bin')).error).toBeUndefined();
    await publish('edited.bin', concat(v1.subarray(0, 3 << 20), randomBytes(300_000, 37), v1.subarray(3 << 20)));
    const r = (await page.evaluate(`pullWhileEditing('edited.bin', 'edited.bin')`)) as Pulled;
    expect(r.error?.code).toBe('SOURCE_CHANGED');
    const edited = v1.slice();
    edited.set(new TextEncoder().encode('edited by another tab'), 1000);
    expect(await digestOf('edited.bin')).toBe(sha(edited)); // the other writer's bytes, not the version's nor a mix
  });

  it('should resume a pull cut mid-way after the page reloads, without fetching again what landed', async () => {
    const v3 = randomBytes(3 << 20, 35);
    await publish('fresh.bin', v3);
    const cut = await pullNow('fresh.bin', 'fresh.bin', { cutAfter: 40 });
    expect(cut.error).toBeDefined();
    expect(await digestOf('fresh.bin')).toBeNull(); // nothing replaced (there was nothing)
    expect(await partialOf('fresh.bin')).not.toBeNull(); // what landed stays
    await page.reload();
    await page.waitForFunction(() => 'pullNow' in window);
    const resumed = await pullNow('fresh.bin', 'fresh.bin');
    expect(resumed.error).toBeUndefined();
    expect(resumed.result!.resumedBytes).toBeGreaterThan(0);
    expect(resumed.result!.resumedBytes + resumed.result!.fetchedBytes).toBe(v3.length);
    expect(await digestOf('fresh.bin')).toBe(sha(v3));
  });
});

describe('pull into a picked file (a FileSystemFileHandle)', () => {
  it('should update it through its writable stream, fetching only the change', async () => {
    const v1 = randomBytes(2 << 20, 41);
    await publish('picked.bin', v1);
    const first = (await page.evaluate(`pullHandle('picked.bin', 'picked.bin')`)) as Pulled;
    expect(first.error).toBeUndefined();
    expect(await digestOf('picked.bin')).toBe(sha(v1));
    const v2 = concat(v1.subarray(0, 1 << 20), randomBytes(50_000, 42), v1.subarray(1 << 20));
    await publish('picked.bin', v2);
    const second = (await page.evaluate(`pullHandle('picked.bin', 'picked.bin')`)) as Pulled;
    expect(second.error).toBeUndefined();
    expect(second.result!.fetchedBytes).toBeLessThan(50_000 + 100_000);
    expect(await digestOf('picked.bin')).toBe(sha(v2));
    expect(await partialOf('picked.bin')).toBeNull(); // nothing beside it: the browser swaps the file in at close
  });
});

describe('a push resumed from a kept file handle', () => {
  it('should resume after a reload from the handle kept with the resume record, sending only the parts that had not landed', async () => {
    await page.evaluate(`writeOpfs('kept.bin', ${24 << 20})`);
    const cut = (await page.evaluate(`pushHandle('kept.bin', 'kept.bin', true)`)) as Pushed;
    expect(cut.error).toBeDefined();
    await page.reload();
    await page.waitForFunction(() => 'resumeKept' in window);
    const resumed = (await page.evaluate(`resumeKept('kept.bin')`)) as Pushed & { reopened: boolean };
    expect(resumed.reopened).toBe(true); // no picker: the handle came back from IndexedDB
    expect(resumed.error).toBeUndefined();
    expect(resumed.result!.size).toBe(24 << 20);
    expect(resumed.result!.bytesSent).toBeLessThan(20 << 20); // part 0 (8 MiB) had landed: not sent again
    const stored = Buffer.from(await (await fetch(`${server.url}/v1/files/kept.bin`)).arrayBuffer());
    expect(sha(stored)).toBe(await digestOf('kept.bin'));
  });
});
