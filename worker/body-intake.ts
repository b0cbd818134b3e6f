// Request bodies (parts, signature batches, plans) and the endpoint's byte
// budget (byte-budget.ts). A body arrives at its client's pace: held in
// memory from its first byte, one part on a slow link kept its share of the
// budget for as long as it took, and every other client's parts and batches
// queued behind it. With a spool (the Node server's: files in the store's
// hidden folder, node/spool.ts), a body that finds no share free within
// SPILL_AFTER_MS, or has not fully arrived SPILL_AFTER_MS after taking one,
// goes to a spool file as it arrives instead, and is read back into memory within the budget
// once complete: the budget then bounds the bodies being worked on, not
// the ones still on the wire. Without a spool (Workers, where each key's
// Durable Object has its own budget) a body waits for its share, as before.
// Web APIs only.
import type { BufferPool } from '../core/base/buffer-pool.js';
import type { ByteBudget } from '../core/base/byte-budget.js';
import { BodySink, checkNext, declaredLength, readBody, readPiece } from './body.js';

/**
 * A body on its way into memory later; written in order, read back whole.
 * @example const f = await spool.create(); await f.append(bytes); await f.readInto(out); await f.discard()
 */
export interface SpoolFile {
  append(bytes: Uint8Array): Promise<void>;
  /** Reads the first `into.length` bytes written. */
  readInto(into: Uint8Array): Promise<void>;
  /** Removes the file (idempotent). */
  discard(): Promise<void>;
}

/** Where bodies wait. */
export interface Spool {
  create(): Promise<SpoolFile>;
}

/** A body still arriving this long after it took its share goes to the spool (250 ms: an 8 MiB part at ~270 Mbit/s). */
export const SPILL_AFTER_MS = 250;

/**
 * Reads bodies within a byte budget, spooling those that would hold it idle.
 * @example await intake.run(req, cap, 'part 3', (body) => handle(body))
 */
export class BodyIntake {
  constructor(
    readonly budget: ByteBudget,
    private readonly spool?: Spool,
    private readonly spillAfterMs = SPILL_AFTER_MS,
  ) {}

  /** Reads the body of `req` (at most `limit` bytes, else TOO_LARGE naming `what`) and runs `fn` on it while its bytes count against the budget. */
  async run<T>(req: Request, limit: number, what: string, fn: (body: Uint8Array) => Promise<T>, buffers?: BufferPool): Promise<T> {
    const declared = declaredLength(req, limit, what);
    // Counted at its Content-Length, or at the cap when it has none.
    const share = declared >= 0 ? declared : limit;
    if (!this.spool || !req.body) {
      return this.budget.run(share, async () => {
        const buf = declared >= 0 ? buffers?.take(declared) : undefined;
        try {
          return await fn(await readBody(req, limit, what, buf));
        } finally {
          if (buf) buffers?.give(buf);
        }
      });
    }
    // A share freed within the spill delay is worth the wait: parts queued behind a fast one (a push on a
    // fast link) would otherwise all go through the spool, ~20% slower for a 1 GiB first push on loopback.
    let holding = await this.budget.takeWithin(share, this.spillAfterMs);
    const release = () => {
      if (holding) {
        holding = false;
        this.budget.give(share);
      }
    };
    try {
      const got = await this.receive(req.body, limit, what, declared, holding ? buffers : null, release);
      if ('bytes' in got) {
        try {
          return await fn(got.bytes);
        } finally {
          buffers?.give(got.bytes); // ignored unless it is a pooled buffer
        }
      }
      release();
      const { file, length } = got;
      try {
        return await this.budget.run(length, async () => {
          const buf = buffers?.take(length) ?? new Uint8Array(length);
          try {
            await file.readInto(buf);
            await file.discard();
            return await fn(buf);
          } finally {
            buffers?.give(buf);
          }
        });
      } finally {
        await file.discard();
      }
    } finally {
      release();
    }
  }

  /**
   * The body, in memory when `buffers` is not null (the caller holds its
   * share) and it arrives in time, else in a spool file; `spilled` is
   * called once the bytes held in memory are in the file.
   */
  private async receive(
    body: ReadableStream<Uint8Array>,
    limit: number,
    what: string,
    declared: number,
    buffers: BufferPool | undefined | null,
    spilled: () => void,
  ): Promise<{ bytes: Uint8Array } | { file: SpoolFile; length: number }> {
    const reader = body.getReader();
    const inMemory = buffers !== null;
    const pooledBuf = inMemory && declared >= 0 ? buffers?.take(declared) : undefined;
    let sink: BodySink | null = inMemory ? new BodySink(declared, pooledBuf) : null;
    let file: SpoolFile | undefined;
    // Spool writes in arrival order; awaited before the next read, so at most one piece waits in memory.
    let writing: Promise<void> = Promise.resolve();
    const spill = () => {
      const held = sink!;
      sink = null;
      writing = writing.then(async () => {
        file = await this.spool!.create();
        try {
          await file.append(held.bytes());
        } finally {
          if (pooledBuf) buffers!.give(pooledBuf);
          spilled();
        }
      });
      writing.catch(() => undefined); // a failed spill surfaces at the next await of `writing`, not as an unhandled rejection meanwhile
    };
    if (!inMemory) {
      writing = this.spool!.create().then((f) => {
        file = f;
      });
      writing.catch(() => undefined); // as above
    }
    const timer = inMemory ? setTimeout(spill, this.spillAfterMs) : undefined;
    let total = 0;
    try {
      for (;;) {
        const { done, value } = await readPiece(reader, what, total);
        if (done) break;
        await checkNext(reader, total, value.length, limit, what);
        total += value.length;
        if (sink) sink.add(value);
        else {
          writing = writing.then(() => file!.append(value));
          await writing;
        }
      }
      clearTimeout(timer);
      if (sink) {
        const bytes = sink.bytes();
        if (pooledBuf && bytes.buffer !== pooledBuf.buffer) buffers!.give(pooledBuf); // more bytes than declared: gathered elsewhere
        return { bytes };
      }
      await writing;
      return { file: file!, length: total };
    } catch (e) {
      clearTimeout(timer);
      await writing.catch(() => undefined);
      await file?.discard();
      if (sink && pooledBuf) buffers!.give(pooledBuf);
      throw e;
    }
  }
}
