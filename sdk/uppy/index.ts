// `deltaflare/uppy`: an Uppy uploader that sends each file through the
// browser SDK's sync(), so a team on Uppy keeps its UI (Dashboard, status
// bar, Golden Retriever) and gains delta re-uploads. Modelled on @uppy/tus:
// one promise per file that survives pauses, Uppy's events for progress,
// success and errors, resume from the SDK's IndexedDB records (keyed by
// endpoint and key, so a file Golden Retriever restores after a reload picks
// up its session too).
import { type Body, BasePlugin, type DefinePluginOpts, EventManager, type Meta, type PluginOpts, type Uppy, type UppyFile } from '@uppy/core';
import { checkOptions, type OptionKeys } from '../../core/base/options.js';
import { Semaphore } from '../../core/base/semaphore.js';
import { BROWSER_SYNC_OPTIONS, type BrowserSyncOptions, DeltaflareError, discard, idbResumeStore, type SyncResult, sync } from '../browser/index.js';
import type { Metadata } from '../../core/protocol/metadata.js';
import type { ResumeStore } from '../push/resume.js';

/** Options of the plugin: where to send, how to name each file, and the browser SDK's own options. */
export interface DeltaflareUppyOptions<M extends Meta, B extends Body>
  extends PluginOpts,
    Omit<BrowserSyncOptions, 'key' | 'basis' | 'metadata' | 'signal' | 'fileHandle' | 'resume'> {
  /** The key a file is stored under (what it is diffed against). Default: its `key` meta field, else its relative path, else its name. */
  keyOf?: (file: UppyFile<M, B>) => string;
  /** The version a push expects to replace (`basis`), e.g. from a meta field. Default: the key's current version. */
  basisOf?: (file: UppyFile<M, B>) => string | undefined;
  /** Meta fields sent as the version's metadata (string values only; at most 32 pairs, 1 KiB). Default: name and type. */
  allowedMetaFields?: string[];
  /** Files synced at once (each uses the whole worker pool while hashing). Default 2. */
  limit?: number;
  /** Where unfinished pushes are kept for resuming; `false`: not resumable across reloads. Default: IndexedDB. */
  resume?: ResumeStore | false;
}

/** What `upload-success` carries in `response.body`: the SDK's result (version, matched and literal bytes...). */
export type DeltaflareBody = SyncResult & Body;

const { key: _key, basis: _basis, metadata: _metadata, signal: _signal, fileHandle: _fileHandle, ...PASSED_ON } = BROWSER_SYNC_OPTIONS;
const PLUGIN_OPTIONS: OptionKeys<DeltaflareUppyOptions<Meta, Body>> = {
  ...PASSED_ON,
  keyOf: true,
  basisOf: true,
  allowedMetaFields: true,
  limit: true,
  resume: true,
  id: true,
  locale: true,
};

const defaults = { limit: 2, allowedMetaFields: ['name', 'type'] } satisfies Partial<DeltaflareUppyOptions<Meta, Body>>;
type Opts<M extends Meta, B extends Body> = DefinePluginOpts<DeltaflareUppyOptions<M, B>, keyof typeof defaults>;

/** The default key: a `key` meta field, else the path a folder drop gave, else the name. */
function defaultKey(file: UppyFile<Meta, Body>): string {
  const { key, relativePath } = file.meta as { key?: unknown; relativePath?: unknown };
  if (typeof key === 'string' && key) return key;
  if (typeof relativePath === 'string' && relativePath) return relativePath;
  return file.name;
}

/** A slot of `slots`, waited for in the order asked; the function it resolves to gives it back (once, however often it is called). */
async function takeSlot(slots: Semaphore): Promise<() => void> {
  await slots.acquire();
  let given = false;
  return () => {
    if (given) return;
    given = true;
    slots.release();
  };
}

/**
 * The uploader: `uppy.use(Deltaflare, { endpoint })`. Each file is pushed
 * with the browser SDK: only the bytes the endpoint lacks under its key are
 * sent; pause keeps the session, resume (or a reload) sends only what had
 * not landed; cancel and removal delete the session on the endpoint.
 * @example
 * import Uppy from '@uppy/core';
 * import Dashboard from '@uppy/dashboard';
 * import Deltaflare from 'deltaflare/uppy';
 * new Uppy().use(Dashboard, { inline: true, target: '#uploads' }).use(Deltaflare, { endpoint: 'https://sync.example.com' });
 */
export default class Deltaflare<M extends Meta, B extends Body> extends BasePlugin<Opts<M, B>, M, B> {
  static VERSION = '0.1.0';
  /** Files synced at once (`limit`). */
  private readonly slots: Semaphore;
  private readonly store: ResumeStore | undefined;

  constructor(uppy: Uppy<M, B>, opts: DeltaflareUppyOptions<M, B>) {
    checkOptions('Deltaflare (Uppy plugin)', opts, PLUGIN_OPTIONS, {
      key: 'keyOf: (file) => key',
      basis: 'basisOf: (file) => version',
      metadata: 'allowedMetaFields',
    });
    super(uppy, { ...defaults, ...opts });
    if (typeof opts.endpoint !== 'string' || !opts.endpoint) {
      throw new DeltaflareError(
        'INVALID_ARGUMENT',
        'Deltaflare (Uppy plugin): `endpoint` is required, e.g. uppy.use(Deltaflare, { endpoint: location.origin })',
      );
    }
    this.type = 'uploader';
    this.id = this.opts.id ?? 'Deltaflare';
    this.slots = new Semaphore(Math.max(1, this.opts.limit));
    this.store = this.opts.resume === false ? undefined : (this.opts.resume ?? idbResumeStore());
  }

  override install(): void {
    const { capabilities } = this.uppy.getState();
    this.uppy.setState({ capabilities: { ...capabilities, resumableUploads: true } });
    this.uppy.addUploader(this.handleUpload);
  }

  override uninstall(): void {
    const { capabilities } = this.uppy.getState();
    this.uppy.setState({ capabilities: { ...capabilities, resumableUploads: false } });
    this.uppy.removeUploader(this.handleUpload);
  }

  private readonly handleUpload = async (fileIDs: string[]): Promise<void> => {
    const files = this.uppy.getFilesByIds(fileIDs).filter((f) => !f.error && !f.progress.uploadComplete);
    this.uppy.emit(
      'upload-start',
      files.filter((f) => !f.progress.uploadStarted || !f.isRestored),
    );
    await Promise.allSettled(files.map((f) => this.uploadFile(f)));
  };

  private metadataOf(file: UppyFile<M, B>): Metadata | undefined {
    const pairs = this.opts.allowedMetaFields.flatMap((name) => {
      const value = (file.meta as Record<string, unknown>)[name];
      return typeof value === 'string' && value ? [[name, value] as const] : [];
    });
    return pairs.length ? Object.fromEntries(pairs) : undefined;
  }

  /** Pushes one file; settles when it is committed, cancelled or failed, staying pending while paused. */
  private uploadFile(file: UppyFile<M, B>): Promise<void> {
    if (file.isRemote || !file.data) {
      const error = new DeltaflareError('INVALID_ARGUMENT', `${file.name}: only local files can be synced (no remote or ghost files)`);
      this.uppy.emit('upload-error', file, error);
      return Promise.reject(error);
    }
    const data = file.data as Blob;
    const key = (this.opts.keyOf ?? defaultKey)(file);
    const events = new EventManager(this.uppy);
    const { keyOf: _k, basisOf: _b, allowedMetaFields: _a, limit: _l, resume: _r, id: _i, locale: _lo, ...sdk } = this.opts;
    let controller: AbortController | undefined;
    let release: (() => void) | undefined;
    // Bumped by every pause, cancel and resume: an attempt that sees another value has been superseded.
    let attempt = 0;

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (done: () => void) => {
        if (settled) return;
        settled = true;
        release?.();
        events.remove();
        done();
      };
      /** Ends the current attempt, if any: its session stays for the next one to resume. */
      const stop = () => {
        attempt++;
        controller?.abort('paused');
        controller = undefined;
        release?.();
        release = undefined;
      };
      const run = async () => {
        stop();
        const mine = attempt;
        const slot = await takeSlot(this.slots);
        if (mine !== attempt) return slot();
        release = slot;
        const own = new AbortController();
        controller = own;
        try {
          const result = await sync(data, {
            ...sdk,
            key,
            basis: this.opts.basisOf?.(file),
            metadata: this.metadataOf(file),
            resume: this.store ?? false,
            signal: own.signal,
            onProgress: (p) => {
              sdk.onProgress?.(p);
              if (mine !== attempt) return;
              const latest = this.uppy.getFile(file.id);
              if (!latest) return;
              // The bytes of the new file the endpoint holds: found there, sent, or landed before a resume.
              const settled = Math.min(p.size, p.matchedBytes + p.literalBytesSent + p.resumedBytes);
              this.uppy.emit('upload-progress', latest, {
                uploadStarted: latest.progress.uploadStarted ?? Date.now(),
                bytesUploaded: settled,
                bytesTotal: p.size,
              });
            },
          });
          if (mine !== attempt) return;
          const latest = this.uppy.getFile(file.id);
          const uploadURL = new URL(`v1/files/${encodeURIComponent(key).replace(/%2F/g, '/')}`, `${sdk.endpoint.replace(/\/?$/, '/')}`).href;
          if (latest) this.uppy.emit('upload-success', latest, { status: 200, body: result as unknown as B, uploadURL });
          finish(resolve);
        } catch (e) {
          if (mine !== attempt) return; // paused, cancelled or removed meanwhile: that handler settles the file
          const error = e instanceof Error ? e : new DeltaflareError('INTERNAL', String(e));
          this.uppy.emit('upload-error', this.uppy.getFile(file.id) ?? file, error);
          finish(() => reject(error));
        } finally {
          if (mine === attempt) release = undefined;
          slot();
        }
      };
      const cancel = (why: string) => {
        if (settled) return;
        stop();
        if (this.store) void discard(this.store, { endpoint: sdk.endpoint, key, token: sdk.token }).catch(() => {});
        finish(() => resolve());
        this.uppy.log(`[Deltaflare] ${file.id}: ${why}`);
      };
      events.onFileRemove(file.id, () => cancel('removed'));
      events.onCancelAll(file.id, () => cancel('cancelled'));
      events.onPause(file.id, (paused) => (paused ? stop() : void run()));
      events.onPauseAll(file.id, stop);
      events.onResumeAll(file.id, () => void run());
      if (!this.uppy.getFile(file.id)?.isPaused) void run();
    });
  }
}
