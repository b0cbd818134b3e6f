// Apps over a real fs store in a fresh temp folder, and helpers on store state.
import type { Hooks } from '../../worker/hooks.js';
import type { Limits } from '../../core/base/limits.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll } from 'vitest';
import { init } from '../../core/kernels/index.js';
import { Endpoint, createApp } from '../../worker/http/app.js';
import { FsStore } from '../../worker/store/fs/store.js';
import { type Send, typed } from './client.js';

export const kernels = await init();

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh temp folder, removed after the file's tests. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'df-worker-'));
  dirs.push(d);
  return d;
}

/** An app over an fs store in a fresh folder; `send` goes through app.request (no server). */
export async function makeApp(
  opts: { limits?: Partial<Limits>; now?: () => number; dir?: string; bootId?: string | null; hooks?: Hooks; log?: (e: unknown) => void } = {},
) {
  const dir = opts.dir ?? tempDir();
  const store = await FsStore.open(dir, { bootId: opts.bootId });
  // Background work (the sweep a request starts, copies when a plan lands), kept so a test can await it.
  const background: Promise<unknown>[] = [];
  const waitUntil = (p: Promise<unknown>) => void background.push(p.catch(() => undefined));
  const options = { store, kernels, limits: opts.limits, now: opts.now, log: opts.log ?? (() => undefined), waitUntil, ...opts.hooks };
  const endpoint = new Endpoint(options);
  const app = createApp(options, endpoint);
  const send: Send = async (path, init) => app.request(path, typed(init));
  /** Resolves once the background work started so far has ended. */
  const settled = async () => {
    while (background.length) await Promise.all(background.splice(0));
  };
  return { dir, store, app, endpoint, send, settled };
}

/** Every file under `dir` (metadata included) with its size and SHA-256: equal snapshots mean nothing was written. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[`${p.slice(dir.length)}/`] = 'dir';
        walk(p);
      } else out[p.slice(dir.length)] = `${statSync(p).size}:${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

export { concat, randomBytes } from '../support/bytes.js';

/** Byte equality naming the first difference (toEqual on typed arrays is slow). */
export function sameBytes(a: Uint8Array, b: Uint8Array): string {
  if (a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)) return 'same';
  let i = 0;
  while (i < Math.min(a.length, b.length) && a[i] === b[i]) i++;
  return `differ: lengths ${a.length} and ${b.length}, first difference at ${i}`;
}
