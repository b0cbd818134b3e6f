// Child process for fs-crash.test.ts: commits generation after generation of
// one key until it is killed. Generation g is (4 MiB + 4096 g) bytes, every
// byte equal to g % 251, so a reader can tell one complete generation from a
// mix of two by size and content alone.
import { FsStore } from '../../../../worker/store/fs/store.js';

const [dir] = process.argv.slice(2);
const store = await FsStore.open(dir);
let expected = (await store.head('disk.img'))?.id ?? null;
for (let g = 1; ; g++) {
  const size = (4 << 20) + 4096 * g;
  const s = await store.createStaging(size);
  const piece = new Uint8Array(1 << 20).fill(g % 251);
  for (let off = 0; off < size; off += piece.length) await s.writeAt(off, piece.subarray(0, Math.min(piece.length, size - off)));
  expected = (await store.commit('disk.img', s.id, { expectedVersion: expected })).id;
  process.stdout.write(`committed ${g}\n`);
}
