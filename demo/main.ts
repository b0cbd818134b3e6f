// The demo page: pick or drop a file and it syncs to the endpoint that served
// the page (or the one in Settings), under the file's name (or the key in
// Settings, or the key of the unfinished upload it resumes). Before it starts
// the page says which key that is and what it is compared against. Phases,
// rates, matched vs landed bytes and the file strip update live; an
// unfinished upload found in IndexedDB is offered for resume.
import {
  DeltaflareError,
  discard as discardPush,
  idbResumeStore,
  type ResumeRecord,
  reopenFile,
  sync,
  type SyncProgress,
  type SyncResult,
} from '../sdk/browser/index.js';
import { type PullRun, pullView } from './pull-view.js';
import { mb, Strip } from './strip.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const fileInput = $<HTMLInputElement>('file');
const keyInput = $<HTMLInputElement>('key');
const endpointInput = $<HTMLInputElement>('endpoint');
const workersInput = $<HTMLInputElement>('workers');
const drop = $<HTMLLabelElement>('drop');
const status = $('status');
const pauseButton = $<HTMLButtonElement>('pause');
const resumeButton = $<HTMLButtonElement>('resume');
const offers = $('resume-offers');
const strip = new Strip($<HTMLCanvasElement>('strip'));
const store = idbResumeStore();

endpointInput.value = location.origin;
workersInput.value = String(navigator.hardwareConcurrency || 2);

/** What the tests (and the curious) can read: one entry per sync started, and how often progress was drawn. */
interface Run {
  key: string;
  progress?: SyncProgress;
  result?: SyncResult;
  error?: { code: string; message: string };
}
const runs: Run[] = [];
const counts = { progressEvents: 0, progressDraws: 0, partsLanded: 0 };
(window as unknown as { deltaflareDemo: { runs: Run[]; counts: typeof counts; pulls: PullRun[] } }).deltaflareDemo = {
  runs,
  counts,
  pulls: pullView(() => endpointInput.value.trim() || location.origin).runs,
};

/** The latest progress to draw, and whether a frame is already asked for: the page draws at most once per animation frame. */
let pending: { p: SyncProgress | undefined; size: number } | undefined;
function drawProgress(p: SyncProgress | undefined, size: number): void {
  if (!pending) {
    requestAnimationFrame(() => {
      const { p: latest, size: s } = pending!;
      pending = undefined;
      counts.progressDraws++;
      showProgress(latest, s);
    });
  }
  pending = { p, size };
}

let current: { file: File; controller: AbortController; handle?: FileSystemFileHandle; key: string } | undefined;
/** The unfinished upload whose "Pick the file" was pressed: the next picked file must be that file. */
let pendingOffer: ResumeRecord | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
/** After a lost connection the page tries again by itself after this long (and at once on 'online'). */
const AUTO_RETRY_MS = 15_000;

const setState = (state: 'idle' | 'running' | 'paused' | 'error' | 'done') => (document.body.dataset.state = state);
const endpoint = () => endpointInput.value.trim() || location.origin;

/** `path` under the endpoint (which may have a path of its own). */
const endpointUrl = (path: string) => new URL(path, endpoint().replace(/\/?$/, '/'));
const keyPath = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/** The unfinished uploads to this endpoint kept in IndexedDB. */
async function unfinished(): Promise<ResumeRecord[]> {
  return (await store.list()).filter((r) => r.session && r.endpoint === endpoint());
}

/** Whether `file` looks like the one an unfinished upload was of (the SDK checks its content when resuming). */
const sameFile = (r: ResumeRecord, file: File) => r.fingerprint.size === file.size && (r.fingerprint.name ?? file.name) === file.name;

/** Says which key the file goes to and what the endpoint has there, so a full upload under a new name is no surprise. */
async function describeTarget(key: string, file: File): Promise<void> {
  const target = $('sync-target');
  target.textContent = `Stored as “${key}”…`;
  const res = await fetch(endpointUrl(`v1/files/${keyPath(key)}`), { method: 'HEAD', signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  const size = Number(res?.headers.get('content-length'));
  const version = res?.headers.get('x-deltaflare-version');
  target.textContent =
    res?.ok && version
      ? `Stored as “${key}”: compared against its current version ${version.slice(0, 12)}… (${mb(size)}); only what differs is sent.`
      : res?.status === 404
        ? `Stored as “${key}”, a new key: the whole file (${mb(file.size)}) is sent. To send only the changes from an earlier upload, set Key (Settings) to that upload's key.`
        : `Stored as “${key}” (what the endpoint holds there could not be checked).`;
}

/** The keys the endpoint holds, offered by the Key field. */
async function listKeys(): Promise<void> {
  const res = await fetch(endpointUrl('v1/files?limit=1000')).catch(() => undefined);
  if (!res?.ok) return;
  const { files } = (await res.json()) as { files: { key: string }[] };
  $('keys').replaceChildren(
    ...files.map((f) => {
      const o = document.createElement('option');
      o.value = f.key;
      return o;
    }),
  );
}

/**
 * Syncs `file` under `key` (default: the Key setting, else the key of an
 * unfinished upload of this file, else its name); with its `handle` (a
 * drop's, or a kept one), a reload can resume it without picking it again.
 */
async function start(file: File, handle?: FileSystemFileHandle, key?: string): Promise<void> {
  current?.controller.abort('replaced by another file');
  clearTimeout(retryTimer);
  const controller = new AbortController();
  key ??= keyInput.value.trim() || (await unfinished()).find((r) => sameFile(r, file))?.key || file.name;
  current = { file, controller, handle, key };
  const run: Run = { key };
  runs.push(run);
  $('sync').hidden = false;
  $('sync-verb').textContent = 'Syncing';
  $('sync-name').textContent = `${file.name} (${mb(file.size)})`;
  strip.reset(file.size);
  drawProgress(undefined, file.size);
  setState('running');
  void showOffers();
  pauseButton.hidden = false;
  resumeButton.hidden = true;
  await describeTarget(key, file);
  if (current?.controller !== controller) return;
  say(`Hashing ${file.name}…`);
  try {
    run.result = await sync(handle ?? file, {
      endpoint: endpoint(),
      key,
      workers: Number(workersInput.value) || undefined,
      signal: controller.signal,
      onProgress: (p) => {
        run.progress = p;
        counts.progressEvents++;
        drawProgress(p, file.size);
      },
      onPlan: (layout) => strip.planned(layout),
      onPart: (part) => {
        counts.partsLanded++;
        strip.partLanded(part);
      },
    });
    if (current?.controller !== controller) return;
    const r = run.result;
    setState('done');
    $('sync-verb').textContent = 'Synced';
    say(`Done: ${key} is version ${r.version}. ${mb(r.matchedBytes)} matched, ${mb(r.literalBytes)} uploaded, in ${r.seconds.toFixed(1)} s.`);
    pauseButton.hidden = true;
    void listKeys();
  } catch (e) {
    const error = e instanceof DeltaflareError ? e : new DeltaflareError('INTERNAL', String((e as Error)?.message ?? e));
    run.error = { code: error.code, message: error.message };
    if (current?.controller !== controller) return;
    pauseButton.hidden = true;
    resumeButton.hidden = false;
    drawProgress(run.progress, file.size); // rate and time left no longer apply
    if (error.code === 'ABORTED') {
      setState('paused');
      say('Paused. Resume sends only what the server does not have yet.');
    } else if (error.code === 'NETWORK' || error.code === 'INTERNAL') {
      setState('error');
      say(`Connection lost (${error.message.replace(/^deltaflare: /, '')}). Trying again in ${AUTO_RETRY_MS / 1000} s, or press Resume.`);
      retryTimer = setTimeout(() => void start(file, handle, key), AUTO_RETRY_MS);
    } else {
      setState('error');
      say(error.message.replace(/^deltaflare: /, ''));
    }
  } finally {
    void showOffers();
  }
}

function showProgress(p: SyncProgress | undefined, size: number): void {
  const phases = ['signatures', 'uploading', 'committing', 'done'];
  const at = p ? phases.indexOf(p.phase) : 0;
  document.querySelectorAll<HTMLElement>('.phases li').forEach((li) => {
    const i = phases.indexOf(li.dataset.phase!);
    li.classList.toggle('active', i === at);
    li.classList.toggle('done', i < at);
  });
  const bar = (id: string, value: number, max: number, text: string) => {
    const el = $<HTMLProgressElement>(`p-${id}`);
    el.max = Math.max(1, max);
    el.value = value;
    $(`f-${id}`).textContent = text;
  };
  const hashed = p?.bytesHashed ?? 0;
  bar('signatures', hashed, size, p?.cached ? 'cached' : `${mb(hashed)} / ${mb(size)}`);
  const planned = p && p.phase !== 'signatures';
  // Landed parts (resumed ones included), as the strip draws them and an unfinished upload's offer counts them.
  const uploaded = planned ? strip.summary().uploaded : 0;
  // Nothing to upload (an unchanged file) shows as a full bar, not an empty one.
  const nothing = planned && p.literalBytes === 0;
  bar(
    'uploading',
    planned ? (nothing ? 1 : uploaded) : 0,
    planned && !nothing ? p.literalBytes : 1,
    planned ? (nothing ? 'nothing to send' : `${mb(uploaded)} / ${mb(p.literalBytes)}`) : '',
  );
  bar('committing', p?.phase === 'done' ? 1 : 0, 1, p?.phase === 'done' ? 'done' : '');
  if (!p) return;
  if (p.phase === 'signatures') strip.hashed(hashed);
  // A rate and time left are only true while it runs: paused or failed, they show a dash.
  const running = document.body.dataset.state === 'running';
  $('s-rate').textContent = running && p.rate ? `${(p.rate / 1e6).toFixed(1)} MB/s` : '–';
  $('s-eta').textContent = p.phase === 'done' ? '0 s' : running && p.eta ? `${Math.ceil(p.eta)} s` : '–';
  $('s-matched').textContent = planned ? mb(p.matchedBytes) : '–';
  $('s-uploaded').textContent = planned ? `${mb(uploaded)} of ${mb(p.literalBytes)}${p.resumed ? ` (${mb(p.resumedBytes)} before resume)` : ''}` : '–';
  $('s-sent').textContent = `${mb(p.bytesSent)} up, ${mb(p.bytesReceived)} down`;
  // Drawn a frame late: a sync that has ended since keeps its own message.
  if (document.body.dataset.state !== 'running') return;
  if (p.phase === 'uploading') say(p.resumed ? 'Resumed: sending the parts the server does not have.' : 'Uploading what changed…');
  if (p.phase === 'committing') say('Committing…');
}

let lastSaid = '';
/** Updates the live region only when the text changes (screen readers announce every change). */
function say(text: string): void {
  if (text === lastSaid) return;
  lastSaid = text;
  status.textContent = text;
}

/**
 * Lists unfinished uploads to this endpoint kept in IndexedDB, each with
 * "pick the file" and "discard"; not while one runs, nor the current one
 * while it is paused or failed (its Resume button is there).
 */
async function showOffers(): Promise<void> {
  const state = document.body.dataset.state;
  const records = (await unfinished()).filter((r) => !(current && r.key === current.key && (state === 'paused' || state === 'error')));
  const running = state === 'running';
  offers.replaceChildren(...(running ? [] : records.map(offer)));
  offers.hidden = running || records.length === 0;
}

function offer(r: ResumeRecord): HTMLElement {
  const box = document.createElement('div');
  box.className = 'offer';
  const s = r.session!;
  const text = document.createElement('p');
  text.textContent = `Unfinished upload of ${r.fingerprint.name ?? r.key} (${mb(r.fingerprint.size)}) as “${r.key}”: ${mb(s.landedBytes)} of ${mb(s.literalBytes)} uploaded. Pick or drop the same file to resume.`;
  const pick = document.createElement('button');
  pick.type = 'button';
  pick.className = 'primary';
  pick.textContent = r.handle ? 'Resume' : 'Pick the file to resume';
  pick.onclick = async () => {
    // A kept handle reopens the file (one permission prompt at most); without one, the user picks it again.
    const file = await reopenFile(r);
    if (file) return void start(file, r.handle as FileSystemFileHandle, r.key);
    pendingOffer = r;
    fileInput.click();
  };
  const discard = document.createElement('button');
  discard.type = 'button';
  discard.textContent = 'Discard';
  discard.onclick = async () => {
    await discardPush(store, { endpoint: r.endpoint, key: r.key }).catch(() => {});
    await showOffers();
  };
  box.append(text, pick, discard);
  return box;
}

/** A file picked or dropped: resumes the offer it was picked for (only with that file), else starts. */
function chosen(file: File, handle?: FileSystemFileHandle): void {
  const offered = pendingOffer;
  pendingOffer = undefined;
  if (offered && !sameFile(offered, file)) {
    const note = document.createElement('p');
    note.className = 'note';
    note.setAttribute('role', 'alert');
    note.textContent = `${file.name} (${mb(file.size)}) is not the file of this unfinished upload (${offered.fingerprint.name ?? offered.key}, ${mb(offered.fingerprint.size)}): pick that file to resume, or Discard the upload to send this one.`;
    offers.querySelector('.offer .note')?.remove();
    offers.querySelector('.offer')?.prepend(note);
    return;
  }
  void start(file, handle, offered?.key);
}

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) chosen(file);
  else pendingOffer = undefined;
  fileInput.value = ''; // picking the same file again fires 'change' again
});
fileInput.addEventListener('cancel', () => (pendingOffer = undefined));
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  // Where the browser gives a dropped file's handle, it is kept for resuming after a reload.
  const item = e.dataTransfer?.items[0] as (DataTransferItem & { getAsFileSystemHandle?(): Promise<FileSystemHandle | null> }) | undefined;
  const handle = item?.getAsFileSystemHandle?.();
  if (file)
    void (handle ?? Promise.resolve(null)).then(
      (h) => chosen(file, h?.kind === 'file' ? (h as FileSystemFileHandle) : undefined),
      () => chosen(file),
    );
});
pauseButton.addEventListener('click', () => current?.controller.abort('paused'));
resumeButton.addEventListener('click', () => current && void start(current.file, current.handle, current.key));
window.addEventListener('online', () => {
  if (document.body.dataset.state === 'error' && current) void start(current.file, current.handle, current.key);
});
endpointInput.addEventListener('change', () => {
  void showOffers();
  void listKeys();
});
void showOffers();
void listKeys();
