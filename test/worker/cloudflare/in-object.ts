// Runs Store calls inside a real Durable Object (runInDurableObject), so the
// shared store suite drives R2Store over the object's own SQLite and the
// local R2 bucket of workerd. Each call enters the object anew, as requests
// do; streams are drained inside (a stream may not outlive its request).
import { env, runInDurableObject } from 'cloudflare:test';
import type { Staging, Store } from '../../../worker/store/store.js';
import type { KeyObject } from '../../../worker/cloudflare/key-object.js';
import type { R2Store } from '../../../worker/store/r2/store.js';

/**
 * workerd's getRandomValues takes at most 65,536 bytes per call, and node:crypto's
 * randomBytes (the shared store helpers) calls it once: fill larger arrays in slices.
 */
export function sliceRandomValues(): void {
  const original = crypto.getRandomValues.bind(crypto);
  Object.defineProperty(crypto, 'getRandomValues', {
    configurable: true,
    value: <T extends ArrayBufferView | null>(a: T): T => {
      if (!a || a.byteLength <= 65_536) return original(a as never) as T;
      const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let at = 0; at < bytes.length; at += 65_536) original(bytes.subarray(at, at + 65_536));
      return a;
    },
  });
}

/** Deletes every object of the test bucket. */
export async function emptyBucket(): Promise<void> {
  for (;;) {
    const page = await env.BUCKET.list({ limit: 1000 });
    if (page.objects.length === 0) return;
    await env.BUCKET.delete(page.objects.map((o) => o.key));
  }
}

async function drain(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** The stub of a key's object, typed as its class for runInDurableObject (the binding is typed by its RPC surface). */
export const keyObjectStub = (id: DurableObjectId) => env.KEYS.get(id) as unknown as DurableObjectStub<KeyObject>;

/** A Store whose every call runs in the Durable Object named `name`. */
export function storeInObject(name: string): Store {
  const stub = keyObjectStub(env.KEYS.idFromName(name));
  // Errors come back as values: one thrown inside the object is also reported to vitest as unhandled.
  const run = async <T>(fn: (s: R2Store) => Promise<T>): Promise<T> => {
    const r = await runInDurableObject(stub, (o: KeyObject) =>
      fn(o.store).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
    );
    if ('error' in r) throw r.error;
    return r.value;
  };
  const handle = (id: string): Staging => {
    const on = <T>(fn: (h: Staging) => Promise<T>) => run(async (s) => await fn(await s.staging(id)));
    return {
      id,
      size: () => on((h) => h.size()),
      writeAt: (o, b) => on((h) => h.writeAt(o, b)),
      copyFrom: (k, v, src, len, dst) => on((h) => h.copyFrom(k, v, src, len, dst)),
      readAt: (o, n) => on((h) => h.readAt(o, n)),
      flush: () => on((h) => h.flush()),
      resize: (n) => on((h) => h.resize(n)),
      discard: () => on((h) => h.discard()),
    };
  };
  return new Proxy({} as Store, {
    get(_, m: keyof Store) {
      if (m === 'createStaging' || m === 'staging' || m === 'openInPlace') {
        return (...args: unknown[]) => run(async (s) => handle((await (s[m] as (...a: unknown[]) => Promise<Staging>)(...args)).id));
      }
      if (m === 'read') {
        return async (...args: Parameters<Store['read']>) => {
          const { info, bytes } = await run(async (s) => {
            const r = await s.read(...args);
            return { info: r.info, bytes: await drain(r.body) };
          });
          return { info, body: new Response(bytes).body! };
        };
      }
      return (...args: unknown[]) => run((s) => (s[m] as (...a: unknown[]) => Promise<unknown>)(...args));
    },
  });
}
