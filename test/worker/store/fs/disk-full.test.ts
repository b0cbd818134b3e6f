// A real full disk: a 6 MiB tmpfs. Mounting needs root (CAP_SYS_ADMIN); where
// the mount is refused the test is skipped, and fs-durability.test.ts still
// covers ENOSPC through the fault-injecting facade.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { bytes, expectBytes, put, readAll, rejectsWith } from '../helpers.js';

let mnt = '';
let mounted = false;
beforeAll(async () => {
  mnt = await mkdtemp(join(tmpdir(), 'deltaflare-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
});
afterAll(async () => {
  if (mounted) execFileSync('umount', [mnt]);
  await rm(mnt, { recursive: true, force: true });
});

it('should report ENOSPC on a full tmpfs as IO 507 and keep the old version readable', async (ctx) => {
  if (!mounted) ctx.skip();
  const store = await FsStore.open(join(mnt, 'data'));
  const old = bytes(2 << 20);
  const v1 = await put(store, 'disk.img', old, null);
  // 2 MiB used; 5 more do not fit in 6 MiB.
  const s = await store.createStaging(5 << 20);
  let failed = null;
  for (let off = 0; off < 5 << 20 && !failed; off += 1 << 20) {
    failed = await s.writeAt(off, bytes(1 << 20)).then(
      () => null,
      (e: unknown) => e,
    );
  }
  expect(failed).not.toBeNull();
  const e = await rejectsWith(Promise.reject(failed), 'IO');
  expect((e.cause as { code?: string }).code).toBe('ENOSPC');
  expect(e.status).toBe(507);
  expect(await store.head('disk.img')).toEqual(v1);
  expectBytes(await readAll(store, 'disk.img'), old);
  // Discarding the failed staging frees the space; a commit that fits then succeeds.
  await s.discard();
  const next = bytes(1 << 20);
  await put(store, 'disk.img', next, v1.id);
  expectBytes(await readAll(store, 'disk.img'), next);
});
