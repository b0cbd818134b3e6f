// The page of bench/browser-sync.ts, built by Vite as a web app would build
// it: the SDK's sync() of the picked File, the same through Uppy with the
// deltaflare plugin, and the peers it is measured against in the same
// browser: a plain PUT of the File, and raw reads of it (Blob.slice,
// File.stream, FileReaderSync, on the page and in a worker).
import Uppy from '@uppy/core';
import { createBrowserPool, type PullResult, pull, sync, type SyncResult } from '../../sdk/browser/index.js';
import { DEFAULT_CHUNKING } from '../../core/protocol/chunking.js';
import { signatures } from '../../sdk/signatures/pass.js';
import { blobSource } from '../../sdk/source.js';
import Deltaflare from '../../sdk/uppy/index.js';

const file = (): File => (document.getElementById('file') as HTMLInputElement).files![0];
const SEGMENT = 8 << 20;

/** A plain upload of the whole File in one PUT (what tus/Uppy without chunking send): seconds. */
async function plainPut(url: string): Promise<number> {
  await fetch(url, { method: 'PUT', body: new Uint8Array(1) }); // the CORS preflight, once
  const t0 = performance.now();
  const res = await fetch(url, { method: 'PUT', body: file() });
  if (!res.ok) throw new Error(`sink answered ${res.status}`);
  return (performance.now() - t0) / 1000;
}

// Reads a File in a worker: every `step`-th segment from segment `first`
// (one worker: all of them), `how`; answers the seconds it took.
const READER = `onmessage = async (e) => {
  const { file, how, segment, first, step } = e.data;
  const t0 = performance.now();
  if (how === 'stream') { const r = file.stream().getReader(); while (!(await r.read()).done); }
  else if (how === 'stream, BYOB') { const r = file.stream().getReader({ mode: 'byob' }); let b = new ArrayBuffer(1 << 20); for (;;) { const x = await r.read(new Uint8Array(b)); if (x.done) break; b = x.value.buffer; } }
  else for (let a = first * segment; a < file.size; a += step * segment) {
    const s = file.slice(a, a + segment);
    if (how === 'FileReaderSync') new FileReaderSync().readAsArrayBuffer(s);
    else if (how === 'slice') await s.arrayBuffer();
    else { const r = s.stream().getReader(); while (!(await r.read()).done); }
  }
  postMessage((performance.now() - t0) / 1000);
};`;

/**
 * How a File is read: whole as one stream (pieces as the stream makes them,
 * or into one reused 1 MiB buffer with a BYOB reader), or in 8 MiB slices
 * read with arrayBuffer(), FileReaderSync or each as a stream.
 */
type How = 'stream' | 'stream, BYOB' | 'slice' | 'FileReaderSync' | 'slice streams';

/** Reads the whole File once, `how`, on the page or in `workers` workers sharing its segments: seconds. */
async function rawRead(how: How, where: 'page' | 'worker', workers = 1, segment = SEGMENT): Promise<number> {
  const f = file();
  if (where === 'worker') {
    const url = URL.createObjectURL(new Blob([READER], { type: 'text/javascript' }));
    const all = Array.from({ length: workers }, () => new Worker(url));
    try {
      const t0 = performance.now();
      await Promise.all(
        all.map(
          (w, first) =>
            new Promise<number>((resolve, reject) => {
              w.onmessage = (e) => resolve(e.data as number);
              w.onerror = (e) => reject(new Error(e.message));
              w.postMessage({ file: f, how, segment, first, step: workers });
            }),
        ),
      );
      return (performance.now() - t0) / 1000;
    } finally {
      for (const w of all) w.terminate();
      URL.revokeObjectURL(url);
    }
  }
  const t0 = performance.now();
  if (how === 'stream') {
    const r = f.stream().getReader();
    while (!(await r.read()).done);
  } else if (how === 'stream, BYOB') {
    const r = f.stream().getReader({ mode: 'byob' });
    for (let b = new ArrayBuffer(1 << 20); ; ) {
      const x = await r.read(new Uint8Array(b));
      if (x.done) break;
      b = x.value.buffer as ArrayBuffer;
    }
  } else for (let a = 0; a < f.size; a += segment) await f.slice(a, a + segment).arrayBuffer();
  return (performance.now() - t0) / 1000;
}

/** The signature pass alone over the File with `workers` Web Workers: seconds. */
async function pass(workers: number): Promise<number> {
  const pool = await createBrowserPool(workers);
  try {
    const t0 = performance.now();
    for await (const _ of signatures(blobSource(file()), { chunking: DEFAULT_CHUNKING, pool }));
    return (performance.now() - t0) / 1000;
  } finally {
    pool.terminate();
  }
}

/** sync() of the File as a web app calls it (default pool and resume store). */
async function push(o: { endpoint: string; key: string; partConcurrency?: number; workers?: number }): Promise<SyncResult & { wall: number }> {
  performance.clearMeasures();
  performance.clearResourceTimings();
  const t0 = performance.now();
  const r = await sync(file(), o);
  return { ...r, wall: (performance.now() - t0) / 1000 };
}

/** The picked File uploaded by Uppy (core, no UI) with the deltaflare plugin, as a team on Uppy would: wall seconds. */
async function uppyPush(o: { endpoint: string; key: string }): Promise<{ wall: number }> {
  const uppy = new Uppy().use(Deltaflare, { endpoint: o.endpoint, keyOf: () => o.key, resume: false });
  try {
    const t0 = performance.now();
    uppy.addFile({ name: file().name, type: file().type, data: file() });
    const result = await uppy.upload();
    if (!result || result.failed?.length) throw new Error(`Uppy: ${result?.failed?.[0]?.error ?? 'upload failed'}`);
    return { wall: (performance.now() - t0) / 1000 };
  } finally {
    uppy.destroy();
  }
}

/** The last push's stages (User Timing) and requests (Resource Timing): [name, start ms, duration ms]. */
function timeline(): Array<[string, number, number]> {
  const start = performance.getEntriesByType('measure').find((e) => e.name === 'deltaflare:session')?.startTime ?? 0;
  return [...performance.getEntriesByType('measure'), ...performance.getEntriesByType('resource')]
    .map((e): [string, number, number] => [e.name.replace(/^.*\/v1\/sessions\/[^/]+/, ''), Math.round(e.startTime - start), Math.round(e.duration)])
    .sort((a, b) => a[1] - b[1]);
}

/** Copies the picked File into the origin private file system as `name` (the local copy a pull starts from; untimed). */
async function seedOpfs(name: string): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(`${name}.deltaflare-pull`).catch(() => {});
  const w = await (await root.getFileHandle(name, { create: true })).createWritable();
  await file().stream().pipeTo(w);
}

/** pull() of `key` into the OPFS file `name`, as a web app calls it: the result and the wall seconds. */
async function pullOpfs(o: { endpoint: string; key: string; name: string }): Promise<PullResult & { wall: number }> {
  const t0 = performance.now();
  const r = await pull(o.name, { endpoint: o.endpoint, key: o.key });
  return { ...r, wall: (performance.now() - t0) / 1000 };
}

Object.assign(window, { bench: { plainPut, rawRead, pass, push, uppyPush, timeline, seedOpfs, pullOpfs } });
