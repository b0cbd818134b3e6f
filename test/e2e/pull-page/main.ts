// A page that keeps its own copy of a file in the origin private file system
// and pulls new versions, as test/e2e/browser-pull.test.ts drives it. Built
// by Vite; `deltaflare/browser` is aliased to the SDK's source by the test.
import { DeltaflareError, PULL_SUFFIX, type PullResult, pull } from 'deltaflare/browser';

/** What one pull gave: the result, or the error's code and message. */
export interface Pulled {
  result?: PullResult;
  error?: { code: string; message: string };
}

/** Ranged answers damaged (a byte flipped), or cut after `cutAfter` ranged requests. */
function testFetch(o: { damage?: boolean; cutAfter?: number }): typeof fetch {
  let ranged = 0;
  return async (input, init) => {
    const range = new Headers(init?.headers).get('range');
    if (range && o.cutAfter !== undefined && ++ranged > o.cutAfter) throw new TypeError('cut by the test');
    const res = await fetch(input, init);
    if (!range || !o.damage) return res;
    const body = new Uint8Array(await res.arrayBuffer());
    body[body.length >> 1] ^= 0xff;
    return new Response(body, { status: res.status, headers: res.headers });
  };
}

async function pullNow(key: string, name: string, o: { damage?: boolean; cutAfter?: number } = {}): Promise<Pulled> {
  try {
    const fetchFn = o.damage || o.cutAfter !== undefined ? testFetch(o) : undefined;
    return {
      result: await pull(name, {
        endpoint: location.origin,
        key,
        fetch: fetchFn,
        retry: { retries: 0 },
        requestBytes: o.cutAfter !== undefined ? 1 : undefined,
        concurrency: o.cutAfter !== undefined ? 1 : undefined,
      }),
    };
  } catch (e) {
    if (!(e instanceof DeltaflareError)) return { error: { code: 'OTHER', message: String(e) } };
    return { error: { code: e.code, message: e.message } };
  }
}

/** SHA-256 (hex) of an OPFS file, or null if it is not there. */
async function digestOf(name: string): Promise<string | null> {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name).catch(() => null);
  if (!handle) return null;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await (await handle.getFile()).arrayBuffer()));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

Object.assign(window, { pullNow, digestOf, partialOf: (name: string) => digestOf(`${name}${PULL_SUFFIX}`) });
