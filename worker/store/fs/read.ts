// Streaming a byte range of an opened version as a Web ReadableStream, in
// bounded pieces, closing the file at the end, on error and on cancel.
import { ioError, type FsFacade } from './facade.js';
import type { OpenedVersion } from './staging.js';
import { StoreError } from '../store.js';

/** Bytes per pull (256 KiB): large enough for throughput, small enough that many readers fit in memory. */
export const READ_PIECE = 256 << 10;

/**
 * Streams `[start, end)` of an opened version. If an in-place rewrite of the
 * key starts meanwhile, the stream errors with INCOMPLETE instead of passing
 * on bytes that may be torn (the check runs after each read, and the rewrite
 * marks itself before changing a byte).
 */
export function readStream(fs: FsFacade, o: OpenedVersion, start: number, end: number): ReadableStream<Uint8Array> {
  let pos = start;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fs.close(o.f).catch(() => undefined);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (pos >= end) {
          await close();
          controller.close();
          return;
        }
        const buf = new Uint8Array(Math.min(READ_PIECE, end - pos));
        const n = await fs.read(o.f, buf, pos);
        o.check();
        if (n === 0) throw new StoreError('IO', `${o.f.path} ended at ${pos}, before ${end}`);
        pos += n;
        controller.enqueue(n === buf.length ? buf : buf.subarray(0, n));
      } catch (e) {
        await close();
        controller.error(ioError('read', e));
      }
    },
    cancel: close,
  });
}
