// A page that keeps its own copy of a file in the origin private file system
// and pulls new versions, as test/e2e/browser-pull.test.ts drives it. Built
// by Vite; `deltaflare/browser` is aliased to the SDK's source by the test.
import { DeltaflareError, idbResumeStore, PULL_SUFFIX, type PullResult, pull, reopenFile, type SyncResult, sync } from 'deltaflare/browser';

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

/** Pulls `key` into the OPFS file `name` while another writer edits that file: its first ranged request waits for the edit. */
async function pullWhileEditing(key: string, name: string): Promise<Pulled> {
  let edited = false;
  const editing: typeof fetch = async (input, init) => {
    if (new Headers(init?.headers).get('range') && !edited) {
      edited = true;
      const w = await (await (await navigator.storage.getDirectory()).getFileHandle(name)).createWritable({ keepExistingData: true });
      await w.write({ type: 'write', position: 1000, data: new TextEncoder().encode('edited by another tab') });
      await w.close();
    }
    return fetch(input, init);
  };
  try {
    return { result: await pull(name, { endpoint: location.origin, key, fetch: editing, retry: { retries: 0 } }) };
  } catch (e) {
    return { error: { code: e instanceof DeltaflareError ? e.code : 'OTHER', message: String(e) } };
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

/** Writes `size` random bytes to the OPFS file `name`. */
async function writeOpfs(name: string, size: number): Promise<void> {
  const root = await navigator.storage.getDirectory();
  const w = await (await root.getFileHandle(name, { create: true })).createWritable();
  for (let at = 0; at < size; at += 65536) await w.write(crypto.getRandomValues(new Uint8Array(Math.min(65536, size - at))));
  await w.close();
}

/** What a push gave. */
export interface Pushed {
  result?: SyncResult;
  error?: { code: string; message: string };
}

/** Pushes the OPFS file `name` by its handle; `onlyPart0`: every part but part 0 fails, as a connection lost after one part. */
async function pushHandle(name: string, key: string, onlyPart0 = false): Promise<Pushed> {
  return pushWith(await (await navigator.storage.getDirectory()).getFileHandle(name), key, onlyPart0);
}

async function pushWith(handle: FileSystemFileHandle, key: string, onlyPart0 = false): Promise<Pushed> {
  // Later parts fail once part 0 has landed: a failure before would abort part 0 too (a failed push aborts its other uploads).
  let part0Landed: () => void = () => {};
  const landed = new Promise<void>((resolve) => (part0Landed = resolve));
  const cutting: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (/\/parts\/[1-9]/.test(url)) {
      await landed;
      throw new TypeError('cut by the test');
    }
    const res = await fetch(input, init);
    if (/\/parts\/0$/.test(url)) part0Landed();
    return res;
  };
  try {
    return { result: await sync(handle, { endpoint: location.origin, key, fetch: onlyPart0 ? cutting : undefined, retry: { retries: 0 } }) };
  } catch (e) {
    return { error: { code: e instanceof DeltaflareError ? e.code : 'OTHER', message: String(e) } };
  }
}

/** After a reload: the unfinished push of `key` reopened from its kept handle, and resumed. */
async function resumeKept(key: string): Promise<Pushed & { reopened: boolean }> {
  const record = (await idbResumeStore().list()).find((r) => r.key === key && r.session);
  const file = record ? await reopenFile(record) : null;
  if (!record || !file) return { reopened: false };
  return { reopened: true, ...(await pushWith(record.handle as FileSystemFileHandle, key)) };
}

/** Pulls `key` into the OPFS file `name` through its handle, as into a file the user picked. */
async function pullHandle(key: string, name: string): Promise<Pulled> {
  const handle = await (await navigator.storage.getDirectory()).getFileHandle(name, { create: true });
  try {
    return { result: await pull(handle, { endpoint: location.origin, key }) };
  } catch (e) {
    return { error: { code: e instanceof DeltaflareError ? e.code : 'OTHER', message: String(e) } };
  }
}

Object.assign(window, {
  pullHandle,
  pullNow,
  pullWhileEditing,
  digestOf,
  partialOf: (name: string) => digestOf(`${name}${PULL_SUFFIX}`),
  writeOpfs,
  pushHandle,
  resumeKept,
});
