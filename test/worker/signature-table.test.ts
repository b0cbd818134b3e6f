// The server's chunk table grows with the signature batches a push streams:
// each batch is read from the store once, not once per part that looks the
// table up (a first push of 1 GiB sends ~128 batches and 256 parts).
import { describe, expect, it } from 'vitest';
import { encodeSignatures } from '../../core/protocol/wire.js';
import type { Session, Sessions } from '../../worker/sessions.js';
import { Signatures } from '../../worker/signatures.js';
import { MemoryStore } from '../../worker/store/memory.js';

describe('signature table', () => {
  it('should read each recorded batch once as the table grows, and answer the same lengths, CRCs and offsets as a fresh read', async () => {
    const store = new MemoryStore();
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, name, receiver) {
        const v = Reflect.get(target, name, receiver);
        if (name !== 'getSessionBlob') return typeof v === 'function' ? v.bind(target) : v;
        return (...args: [string, string]) => {
          reads++;
          return target.getSessionBlob(...args);
        };
      },
    });
    const sigs = new Signatures(counting, undefined as unknown as Sessions, undefined as never, undefined as never);
    const batch = 100;
    const batches = 20;
    const session = (end: number) => ({ id: 's_1', signatures: end ? [[0, end]] : [] }) as unknown as Session;
    for (let b = 0; b < batches; b++) {
      const lengths = Uint32Array.from({ length: batch }, (_, i) => 1000 + ((b * batch + i) % 7));
      const crcs = Uint32Array.from({ length: batch }, (_, i) => (b * batch + i) * 2654435761);
      await store.putSessionBlob('s_1', `sig-${b * batch}-${batch}`, encodeSignatures({ firstIndex: b * batch, crcs, lengths }));
      // Three parts look the table up after each batch.
      for (let part = 0; part < 3; part++) await sigs.table(session((b + 1) * batch));
    }
    expect(reads).toBe(batches);
    const grown = await sigs.table(session(batches * batch));
    const fresh = await new Signatures(store, undefined as unknown as Sessions, undefined as never, undefined as never).table(session(batches * batch));
    expect(grown.count).toBe(batches * batch);
    expect([...grown.lengths]).toEqual([...fresh.lengths]);
    expect([...grown.crcs]).toEqual([...fresh.crcs]);
    expect([...grown.offsets]).toEqual([...fresh.offsets]);
  });
});
