// Helpers shared by the store tests.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Manifest } from '../../../core/protocol/manifest.js';
import type { ChunkingSpec } from '../../../core/protocol/chunking.js';
import { type SessionRecord, type Store, StoreError, type StoreErrorCode, type VersionInfo } from '../../../worker/store/store.js';

/** Random bytes as a plain Uint8Array. */
export function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** Stages `data` in 1 MiB parts written in reverse order and commits it. */
export async function put(
  store: Store,
  key: string,
  data: Uint8Array,
  expectedVersion: string | null,
  extra: { manifest?: Manifest; root?: string } = {},
): Promise<VersionInfo> {
  const s = await store.createStaging(data.length);
  const part = 1 << 20;
  for (let off = Math.floor(Math.max(0, data.length - 1) / part) * part; off >= 0; off -= part) {
    await s.writeAt(off, data.subarray(off, Math.min(data.length, off + part)));
  }
  return store.commit(key, s.id, { expectedVersion, ...extra });
}

/**
 * Expects two byte arrays to be equal, naming the first differing offset.
 * (toEqual compares typed arrays element by element: ~10 s per MiB.)
 */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected)) return;
  let i = 0;
  while (i < Math.min(actual.length, expected.length) && actual[i] === expected[i]) i++;
  expect.fail(`bytes differ: lengths ${actual.length} vs ${expected.length}, first difference at offset ${i}`);
}

/** Reads a whole stream into one array. */
export async function drain(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The key's whole content. */
export async function readAll(store: Store, key: string): Promise<Uint8Array> {
  return drain((await store.read(key)).body);
}

/** Expects `p` to reject with a StoreError of `code` (and returns it). */
export async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, `expected StoreError ${code}`).toBeInstanceOf(StoreError);
  expect((e as StoreError).code, (e as Error).message).toBe(code);
  return e as StoreError;
}

/** A manifest of `n` fixed blocks describing `size` bytes (contents made up: the store does not check them). */
export function fakeManifest(size: number, chunking: ChunkingSpec = { kind: 'fixed', block: 4096 }): Manifest {
  const block = chunking.kind === 'fixed' ? chunking.block : chunking.avg;
  const n = Math.ceil(size / block);
  const lengths = new Uint32Array(n).fill(block);
  if (n) lengths[n - 1] = size - block * (n - 1);
  return { chunking, size, lengths, crcs: new Uint32Array(n).map((_, i) => i * 7919), hashes: bytes(32 * n) };
}

/** A session record with defaults. */
export function session(id: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id,
    key: 'k',
    basisVersion: null,
    size: 10,
    chunking: { kind: 'fixed', block: 4096 },
    inPlace: false,
    stagingId: 'st-none',
    signatures: [[0, 1]],
    created: 1000,
    expires: 2000,
    ...over,
  };
}
