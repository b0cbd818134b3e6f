// What sync() reports through `onProgress`, and the reporter that throttles it.

/** Where a push is: hashing (parts may already go), uploading the rest, committing, done. */
export type SyncPhase = 'signatures' | 'uploading' | 'committing' | 'done';

/** What `onProgress` receives, at most every 100 ms and at each phase change. */
export interface SyncProgress {
  /** The current phase (each change is reported at once). */
  phase: SyncPhase;
  /** Bytes of the file being pushed. */
  size: number;
  /** Bytes chunked and hashed so far. */
  bytesHashed: number;
  /** Bytes of the new file found in the basis (confirmed copies): a running count while hashing, final once planned. */
  matchedBytes: number;
  /**
   * Literal bytes uploaded so far (before compression). Parts may go while
   * the signature pass runs, so this can grow in the 'signatures' phase.
   */
  literalBytesSent: number;
  /** Literal bytes the plan needs: a running count of those found while hashing, final once planned. */
  literalBytes: number;
  /** All bytes sent and received over HTTP, bodies only. */
  bytesSent: number;
  /** Bytes received over HTTP, bodies only. */
  bytesReceived: number;
  /** Bytes per second of the current phase's progress. */
  rate: number;
  /** Seconds left at `rate` for the current phase (0 until a rate is known). */
  eta: number;
  /** The signature came from the resume store (the file was not hashed again). */
  cached: boolean;
  /** An earlier session was resumed; `resumedBytes` of its literal bytes had already landed. */
  resumed: boolean;
  /** Literal bytes of the resumed session that had already landed (not sent again). */
  resumedBytes: number;
}

/** Keeps sync()'s progress and calls the listener at most every 100 ms and at each phase change. */
export class ProgressReporter {
  private state: SyncProgress;
  private last = 0;
  private phaseStart = performance.now();
  private phaseBase = 0;

  constructor(
    size: number,
    private readonly listener?: (p: SyncProgress) => void,
  ) {
    this.state = {
      phase: 'signatures',
      size,
      bytesHashed: 0,
      matchedBytes: 0,
      literalBytesSent: 0,
      literalBytes: 0,
      bytesSent: 0,
      bytesReceived: 0,
      rate: 0,
      eta: 0,
      cached: false,
      resumed: false,
      resumedBytes: 0,
    };
  }
  /** The signature came from the resume store: the whole file counts as hashed. */
  cachedSignature(size: number): void {
    this.state.cached = true;
    this.state.bytesHashed = size;
    this.emit(true);
  }
  hashed(n: number): void {
    this.state.bytesHashed += n;
    this.emit(false);
  }
  transferred(sent: number, received: number): void {
    this.state.bytesSent += sent;
    this.state.bytesReceived += received;
    this.emit(false);
  }
  /** Running counts while hashing (the planner's so far). */
  found(matched: number, literal: number): void {
    Object.assign(this.state, { matchedBytes: matched, literalBytes: literal });
    this.emit(false);
  }
  /** `resumed`: literal bytes that landed before this run, -1 for a new session. */
  planned(matched: number, literal: number, resumed: number): void {
    Object.assign(this.state, { matchedBytes: matched, literalBytes: literal, resumed: resumed >= 0, resumedBytes: Math.max(0, resumed) });
    this.phase('uploading');
  }
  uploaded(n: number): void {
    this.state.literalBytesSent += n;
    this.emit(false);
  }
  phase(phase: SyncPhase): SyncProgress {
    this.state.phase = phase;
    this.phaseStart = performance.now();
    this.phaseBase = this.done();
    this.emit(true);
    return { ...this.state };
  }
  private done(): number {
    return this.state.phase === 'signatures' ? this.state.bytesHashed : this.state.resumedBytes + this.state.literalBytesSent;
  }
  private emit(force: boolean): void {
    const now = performance.now();
    if (!this.listener || (!force && now - this.last < 100)) return;
    this.last = now;
    const total = this.state.phase === 'signatures' ? this.state.size : this.state.literalBytes;
    const seconds = (now - this.phaseStart) / 1000;
    this.state.rate = seconds > 0 ? (this.done() - this.phaseBase) / seconds : 0;
    this.state.eta = this.state.rate > 0 ? Math.max(0, total - this.done()) / this.state.rate : 0;
    this.listener({ ...this.state });
  }
}
