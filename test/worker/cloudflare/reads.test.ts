// Reads on R2 make a bounded number of R2 calls, counted on a bucket that
// records them: one head per request, at most one get of the version's recipe
// (none once the isolate has it), then one ranged get per group of
// neighbouring ranges (or block spans) less than RANGE_MERGE_GAP apart and
// per extent of the recipe the group crosses; more than MAX_RANGE_READS such
// groups is refused before any get.
import { env, SELF } from 'cloudflare:test';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_RANGE_READS, RANGE_MERGE_GAP } from '../../../core/base/limits.js';
import type { Kernels } from '../../../core/kernels/api.js';
import { init } from '../../../core/kernels/workerd.js';
import { blockQuery, digestBlocks } from '../../../core/protocol/block-digests.js';
import { byteRangeParts, rangeHeader, type Span } from '../../../core/protocol/byteranges.js';
import { createApp } from '../../../worker/http/app.js';
import { decodeRecipe, slice } from '../../../worker/store/r2/recipe.js';
import { R2Store } from '../../../worker/store/r2/store.js';
import { randomBytes } from '../../support/bytes.js';
import { push, type Send, typed } from '../client.js';
import { emptyBucket } from './in-object.js';

let k: Kernels;
beforeAll(async () => {
  k = await init();
});
afterEach(emptyBucket);

const send: Send = (path, init) => SELF.fetch(`http://deltaflare.test${path}`, typed(init));

/** A read-only app over the test bucket whose R2 calls are counted by method; a get of a recipe counts as "recipe". */
function countingApp() {
  const calls: Record<string, number> = {};
  const bucket = new Proxy(env.BUCKET, {
    get(target, name, receiver) {
      const v = Reflect.get(target, name, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const what = name === 'get' && String(args[0]).startsWith('r/') ? 'recipe' : String(name);
        calls[what] = (calls[what] ?? 0) + 1;
        return v.apply(target, args);
      };
    },
  });
  const app = createApp({ store: new R2Store(bucket), kernels: k });
  const total = () => Object.values(calls).reduce((n, c) => n + c, 0);
  const reset = () => {
    for (const name of Object.keys(calls)) delete calls[name];
  };
  return { app, calls, total, reset };
}

/** How many extents of the key's recipe the spans (merged: one read each) cross. */
async function extentsCrossed(key: string, reads: Span[]): Promise<number> {
  const head = await env.BUCKET.head(`h/${key}`);
  const name = head!.customMetadata!.recipe;
  const recipe = decodeRecipe(new Uint8Array(await (await env.BUCKET.get(name))!.arrayBuffer()), name);
  return reads.reduce((n, r) => n + slice(recipe, r.offset, r.offset + r.length).length, 0);
}

/** The R2 calls without the recipe's get (made once per isolate and version), which may or may not be cached. */
const withoutRecipe = (calls: Record<string, number>) => {
  expect(calls.recipe ?? 0).toBeLessThanOrEqual(1);
  const { recipe: _, ...rest } = calls;
  return rest;
};

describe('reads on R2', () => {
  it('should answer 1024 neighbouring ranges with one head and one get, and far ranges with one get each', async () => {
    const data = randomBytes(12 << 20, 1);
    await push(send, k, data, { key: 'ranges.bin' });
    const { app, calls, total, reset } = countingApp();

    const near: Span[] = Array.from({ length: 1024 }, (_, i) => ({ offset: 4096 * i, length: 2048 })); // every other 2 KiB
    const res = await app.request('/v1/files/ranges.bin', { headers: { range: rangeHeader(near) } });
    expect(res.status).toBe(206);
    const parts = byteRangeParts(res.headers.get('content-type'), null, new Uint8Array(await res.arrayBuffer()));
    expect(parts.length).toBe(1024);
    for (const p of parts) expect(p.bytes.every((b, j) => b === data[p.offset + j])).toBe(true);
    // One read of the merged span, one get per extent it crosses (a 4 MiB span of 4 MiB parts: one or two).
    const crossed = await extentsCrossed('ranges.bin', [{ offset: 0, length: 4096 * 1023 + 2048 }]);
    expect(crossed).toBeLessThanOrEqual(2);
    expect(withoutRecipe(calls)).toEqual({ head: 1, get: crossed }); // <= 1 + ceil(1024 / 64)

    reset();
    const far: Span[] = Array.from({ length: MAX_RANGE_READS }, (_, i) => ({ offset: i * (RANGE_MERGE_GAP + 4096), length: 100 }));
    const farRes = await app.request('/v1/files/ranges.bin', { headers: { range: rangeHeader(far) } });
    expect(farRes.status).toBe(206);
    await farRes.arrayBuffer();
    expect(withoutRecipe(calls)).toEqual({ head: 1, get: await extentsCrossed('ranges.bin', far) });
    expect(calls.get).toBeLessThanOrEqual(MAX_RANGE_READS + 3); // 100-byte ranges: a few cross a piece's end

    reset();
    const tooFar = [...far, { offset: MAX_RANGE_READS * (RANGE_MERGE_GAP + 4096), length: 100 }];
    const refused = await app.request('/v1/files/ranges.bin', { headers: { range: rangeHeader(tooFar) } });
    expect(refused.status).toBe(416);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(`above the limit ${MAX_RANGE_READS}`);
    expect(total() - (calls.recipe ?? 0)).toBe(1); // the head only (and the recipe when not cached)
  });

  it('should answer a block-digests request with one head and one get per group of spans', async () => {
    const data = randomBytes(6 << 20, 2);
    const { info } = await push(send, k, data, { key: 'blocks.bin' });
    const { app, calls, reset } = countingApp();
    reset();
    const spans: Span[] = Array.from({ length: 256 }, (_, i) => ({ offset: 20_000 * i, length: 8192 }));
    const res = await app.request(`/v1/blocks/blocks.bin?${blockQuery({ version: info.version, block: 1024, digestBytes: 8, spans })}`);
    expect(res.status).toBe(200);
    const got = new Uint8Array(await res.arrayBuffer());
    const want = new Uint8Array(got.length);
    let at = 0;
    for (const s of spans) at = digestBlocks(k, data.subarray(s.offset, s.offset + s.length), 1024, 8, want, at);
    expect(got).toEqual(want);
    expect(withoutRecipe(calls)).toEqual({ head: 1, get: await extentsCrossed('blocks.bin', [{ offset: 0, length: 20_000 * 255 + 8192 }]) });
  });

  it('should serve readers only the chunkings a push stored, leaving the slots to writers', async () => {
    const data = randomBytes(1 << 20, 3);
    await push(send, k, data, { key: 'slots.bin' });
    for (const block of [1024, 2048, 4096, 8192, 16384]) {
      const res = await send(`/v1/manifests/slots.bin?chunking=fixed-${block}`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    const stored = await send('/v1/manifests/slots.bin?digest=8');
    expect(stored.status).toBe(200);
    expect(stored.headers.get('x-deltaflare-chunking')).toBe('cdc-2048-8192-65536-1');
    await stored.arrayBuffer();
    // A writer's push with another chunking still gets a slot.
    const fixed = await push(send, k, data, { key: 'slots.bin', chunking: { kind: 'fixed', block: 4096 } });
    expect(fixed.info.size).toBe(data.length);
  });
});
