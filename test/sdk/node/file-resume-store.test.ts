// Resume records on disk (sdk/node/file-resume-store.ts): typed arrays come
// back as they went, concurrent writes of one record leave the last one
// whole, a delete waits for a write under way, a damaged file is no record.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultResumeDir, fileResumeStore } from '../../../sdk/node/file-resume-store.js';
import type { ResumeRecord } from '../../../sdk/push/resume.js';

const dir = mkdtempSync(join(tmpdir(), 'deltaflare-resume-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (n: number): ResumeRecord => ({
  id: 'http://h\nkey',
  endpoint: 'http://h',
  key: 'key',
  fingerprint: { size: 10, sample: 'ab', name: 'f' },
  updatedAt: n,
  session: {
    id: 's1',
    basisVersion: null,
    inPlace: false,
    oldOffsets: Float64Array.of(-1, 4096.5, 2 ** 40),
    partSize: 8,
    limits: {} as never,
    literalBytes: n,
    landedBytes: 0,
    expiresAt: '',
  },
});

describe('file resume store', () => {
  it('should give back records and signatures with their typed arrays, the last of concurrent writes kept', async () => {
    const store = fileResumeStore(join(dir, 'a'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(record(i))));
    const got = await store.get('http://h\nkey');
    expect(got?.updatedAt).toBe(19);
    expect(got?.session?.oldOffsets).toEqual(Float64Array.of(-1, 4096.5, 2 ** 40));
    const signature = {
      chunking: { kind: 'fixed', block: 4 } as const,
      lengths: Uint32Array.of(4, 4, 2),
      crcs: Uint32Array.of(1, 2, 3),
      hashes: new Uint8Array(96).fill(7),
    };
    await store.putSignature('http://h\nkey', signature);
    expect(await store.getSignature('http://h\nkey')).toEqual(signature);
    expect((await store.list()).map((r) => r.key)).toEqual(['key']);
    const pending = store.put(record(99));
    await store.delete('http://h\nkey');
    await pending;
    expect(await store.get('http://h\nkey')).toBeUndefined();
    expect(readdirSync(join(dir, 'a'))).toEqual([]);
  });

  it('should take a damaged record for none, and find its folder under XDG_STATE_HOME', async () => {
    const store = fileResumeStore(join(dir, 'b'));
    await store.put(record(1));
    const [file] = readdirSync(join(dir, 'b'));
    writeFileSync(join(dir, 'b', file), '{"id": "http://h');
    expect(await store.get('http://h\nkey')).toBeUndefined();
    expect(defaultResumeDir({ XDG_STATE_HOME: '/state' })).toBe('/state/deltaflare/resume');
  });
});
