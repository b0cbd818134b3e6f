import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '../../../../worker/store/fs/store.js';
import { storeSuite } from '../suite.js';

storeSuite('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'deltaflare-store-'));
  return { store: await FsStore.open(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});
