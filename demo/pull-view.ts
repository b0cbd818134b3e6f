// The demo's "Download / update" view: the key's version pulled into this
// site's private storage (OPFS), with the same live strip as a push (found in
// the copy vs fetched), drawn at most once per animation frame, and a link
// to save the copy.
import { DeltaflareError, type PullProgress, type PullResult, pull } from '../sdk/browser/index.js';
import { mb, Strip } from './strip.js';

/** One pull as the tests read it. */
export interface PullRun {
  key: string;
  result?: PullResult;
  error?: { code: string; message: string };
}

/** Wires the view; `endpoint` gives the endpoint to pull from at each start. */
export function pullView(endpoint: () => string): { runs: PullRun[] } {
  const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const form = $<HTMLFormElement>('pull-form');
  const keyInput = $<HTMLInputElement>('pull-key');
  const status = $('pull-status');
  const save = $<HTMLAnchorElement>('pull-save');
  const strip = new Strip($<HTMLCanvasElement>('pull-strip'), { matched: 'found in the copy', uploaded: 'fetched' });
  const runs: PullRun[] = [];
  let spans: Array<[number, number]> = [];

  const onProgress = (p: PullProgress) => {
    if (p.phase === 'scanning' || p.phase === 'manifest') {
      strip.reset(p.size);
      status.textContent = p.phase === 'manifest' ? 'Reading the version…' : `Looking in the copy: ${mb(p.foundBytes)} found`;
    }
    if (p.layout) {
      spans = p.layout.fetch;
      strip.planned({ size: p.size, matched: p.layout.found, parts: spans.map((r, part) => ({ part, ranges: [r], landed: false })) });
    }
    for (const [offset] of p.landed ?? []) {
      const part = spans.findIndex(([o]) => o === offset);
      if (part >= 0) strip.partLanded(part);
    }
    if (p.phase === 'fetching') status.textContent = `${mb(p.foundBytes)} found in the copy, ${mb(p.fetchedBytes)} fetched`;
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = keyInput.value.trim();
    const run: PullRun = { key };
    runs.push(run);
    save.hidden = true;
    try {
      run.result = await pull(key, { endpoint: endpoint(), key, onProgress });
      const r = run.result;
      status.textContent = `Up to date: ${mb(r.size)}, ${mb(r.copiedBytes + r.resumedBytes)} found in the copy, ${mb(r.fetchedBytes)} fetched in ${r.seconds.toFixed(1)} s`;
      const file = await (await (await navigator.storage.getDirectory()).getFileHandle(key)).getFile();
      if (save.href.startsWith('blob:')) URL.revokeObjectURL(save.href);
      save.href = URL.createObjectURL(file);
      save.download = key.split('/').pop() ?? key;
      save.hidden = false;
    } catch (err) {
      run.error = { code: err instanceof DeltaflareError ? err.code : 'ERROR', message: String((err as Error).message ?? err) };
      status.textContent = `Not updated: ${run.error.message}`;
    }
  });
  return { runs };
}
