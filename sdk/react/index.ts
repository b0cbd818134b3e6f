// `deltaflare/react`: a push and a pull as React state. SSR-safe: importing
// this module (and rendering before `start`) touches no Worker, IndexedDB or
// OPFS; the browser SDK runs only when `start` is called.
import { useCallback, useEffect, useRef, useState } from 'react';
import {
  type BrowserPullOptions,
  type BrowserSyncOptions,
  DeltaflareError,
  type PullProgress,
  type PullResult,
  pull,
  type SyncProgress,
  type SyncResult,
  sync,
} from '../browser/index.js';

/** Where a run is: not started, the SDK's phases, then how it ended. */
export type RunPhase<P extends string> = 'idle' | P | 'done' | 'aborted' | 'error';

/** What a hook gives a component. */
export interface Run<Start extends unknown[], Progress extends { phase: string }, Result> {
  /** Starts a run (aborting one in flight); resolves to the SDK's result, or undefined when it was aborted or failed (see `error`). */
  start: (...args: Start) => Promise<Result | undefined>;
  /** Aborts the run in flight; a push keeps its session, so starting it again resumes. */
  abort: () => void;
  /** The run's phase. */
  phase: RunPhase<Progress['phase']>;
  /** The SDK's latest report (rate and ETA included), redrawn at most every 100 ms; undefined before the first. */
  progress: Progress | undefined;
  /** Why the run failed: a DeltaflareError with a `code` (NETWORK, SOURCE_CHANGED, ...). */
  error: DeltaflareError | undefined;
  /** The finished run's result. */
  result: Result | undefined;
}

interface State<Progress, Result> {
  phase: string;
  progress?: Progress;
  error?: DeltaflareError;
  result?: Result;
}

/** The state machine both hooks share: one run at a time, state from the latest run only, aborted on unmount. */
function useRun<Start extends unknown[], Progress extends { phase: string }, Result>(
  go: (signal: AbortSignal, onProgress: (p: Progress) => void, ...args: Start) => Promise<Result>,
): Run<Start, Progress, Result> {
  const [state, setState] = useState<State<Progress, Result>>({ phase: 'idle' });
  const current = useRef<AbortController | undefined>(undefined);
  const latestGo = useRef(go);
  latestGo.current = go;
  useEffect(() => () => current.current?.abort('unmounted'), []);

  const start = useCallback(async (...args: Start): Promise<Result | undefined> => {
    current.current?.abort('replaced by a new run');
    const controller = new AbortController();
    current.current = controller;
    const mine = () => current.current === controller;
    setState({ phase: 'starting' });
    try {
      const result = await latestGo.current(controller.signal, (p) => mine() && setState((s) => ({ ...s, phase: p.phase, progress: p })), ...args);
      if (mine()) setState((s) => ({ ...s, phase: 'done', result }));
      return result;
    } catch (e) {
      const error = e instanceof DeltaflareError ? e : new DeltaflareError('INTERNAL', String((e as Error)?.message ?? e), { cause: e });
      if (mine()) setState((s) => ({ ...s, phase: error.code === 'ABORTED' ? 'aborted' : 'error', error }));
      return undefined;
    }
  }, []);
  const abort = useCallback(() => current.current?.abort('aborted'), []);
  return {
    start,
    abort,
    phase: (state.phase === 'starting' ? (state.progress?.phase ?? 'idle') : state.phase) as RunPhase<Progress['phase']>,
    progress: state.progress,
    error: state.error,
    result: state.result,
  };
}

/** Options of usePush: the browser SDK's sync() options; `key` may come with each start instead. */
export type UsePushOptions = Omit<BrowserSyncOptions, 'key' | 'signal'> & {
  /** The key files go to when start() names none. Default: the file's name. */
  key?: string;
};

/**
 * A push of a file as component state: `start(file, { key })` sends what the
 * endpoint lacks under `key` and resolves to its SyncResult.
 * @example
 * const { start, abort, phase, progress, error } = usePush({ endpoint: location.origin });
 * // <input type="file" onChange={(e) => start(e.target.files![0])} />  {phase} {progress?.eta}
 */
export function usePush(options: UsePushOptions): Run<[file: Blob | FileSystemFileHandle, opts?: { key?: string }], SyncProgress, SyncResult> {
  return useRun<[file: Blob | FileSystemFileHandle, opts?: { key?: string }], SyncProgress, SyncResult>((signal, onProgress, file, opts) => {
    const key = opts?.key ?? options.key ?? (file as File | FileSystemFileHandle).name;
    if (!key) throw new DeltaflareError('INVALID_ARGUMENT', 'usePush: start(file, { key }) needs a key for a Blob without a name');
    return sync(file, {
      ...options,
      key,
      signal,
      onProgress: (p) => {
        options.onProgress?.(p);
        onProgress(p);
      },
    });
  });
}

/** Options of usePull: the browser SDK's pull() options; the key comes with each start. */
export type UsePullOptions = Omit<BrowserPullOptions, 'key' | 'signal'>;

/**
 * A pull into this origin's private file system as component state:
 * `start(key)` updates the OPFS file of that name (or `{ name }`) to the
 * key's current version, fetching only the chunks it lacks.
 * @example
 * const { start, phase, progress } = usePull({ endpoint: location.origin });
 * // <button onClick={() => start('model.bin')}>Update</button> {progress?.rate}
 */
export function usePull(options: UsePullOptions): Run<[key: string, opts?: { name?: string }], PullProgress, PullResult> {
  return useRun<[key: string, opts?: { name?: string }], PullProgress, PullResult>((signal, onProgress, key, opts) =>
    pull(opts?.name ?? key, {
      ...options,
      key,
      signal,
      onProgress: (p) => {
        options.onProgress?.(p);
        onProgress(p);
      },
    }),
  );
}
