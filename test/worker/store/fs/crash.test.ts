// Killing a process mid-commit (SIGKILL) and reopening the store: the key must
// read as exactly one complete generation, with a head that matches it. This
// checks rename atomicity and the record/stat cross-check; it cannot check
// fsync (the page cache survives a process kill) - fs-durability.test.ts
// checks the fsync order instead.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { readAll } from '../helpers.js';

const child = fileURLToPath(new URL('./commit-child.ts', import.meta.url));
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'deltaflare-crash-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** Runs the child until it has committed `after` generations plus a random 0..30 ms, then SIGKILLs it. */
async function runAndKill(after: number): Promise<number> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let committed = 0;
  await new Promise<void>((resolve, reject) => {
    p.on('error', reject);
    p.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited early: ${code} ${signal}`))));
    p.stdout.on('data', (d: Buffer) => {
      committed += d
        .toString()
        .split('\n')
        .filter((l) => l.startsWith('committed')).length;
      if (committed === after) setTimeout(() => p.kill('SIGKILL'), Math.random() * 30);
    });
  });
  return committed;
}

it('should read as exactly one complete generation after the committing process is killed at random points', async () => {
  for (let round = 0; round < 6; round++) {
    await runAndKill(1 + (round % 3));
    const store = await FsStore.open(dir);
    const head = (await store.head('disk.img'))!;
    const data = await readAll(store, 'disk.img');
    const g = (data.length - (4 << 20)) / 4096;
    expect(Number.isInteger(g) && g >= 1, `size ${data.length} is no generation's`).toBe(true);
    expect(
      data.every((b) => b === g % 251),
      `generation ${g} bytes are mixed`,
    ).toBe(true);
    expect(head.size).toBe(data.length);
    // Either its record (v-) or, if killed between rename and record, a stat-derived id (h-).
    expect(head.id).toMatch(/^[vh]-/);
  }
  // Whatever the kills left in staging is an orphan that a day-later sweep removes.
  const store = await FsStore.open(dir);
  await store.sweep(Date.now() + 2 * 86_400_000);
  expect(await readdir(join(dir, '.deltaflare', 'staging'))).toEqual([]);
});
