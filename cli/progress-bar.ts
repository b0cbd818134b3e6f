// The CLI's one progress line on stderr, redrawn in place: one bar for the
// whole push (hashing the file and sending what it lacks, as one amount of
// work) or pull (the version's bytes found or fetched), with the rate and
// the time left, as rsync --info=progress2 shows. Drawn on a terminal, or
// when --progress asks; at most every 100 ms.
import type { PullProgress } from '../sdk/pull/options.js';
import type { SyncProgress } from '../sdk/push/progress.js';

/** Redraws at most this often (ms), besides the last draw. */
const EVERY_MS = 100;

export class ProgressBar {
  private readonly started: number;
  private lastDraw = -Infinity;
  /** Lines drawn (tests count redraws). */
  draws = 0;

  constructor(
    private readonly out: { write(text: string): unknown } = process.stderr,
    private readonly now = () => performance.now(),
  ) {
    this.started = now();
  }

  /** Whether to draw: `--progress` / `--no-progress`, else whether stderr is a terminal. */
  static wanted(flag: boolean | undefined, json: boolean): boolean {
    return flag ?? (!json && process.stderr.isTTY === true);
  }

  /** A push: hashing the file and sending its literal bytes, as one amount of work. */
  push(p: SyncProgress): void {
    const hashed = p.cached ? p.size : p.bytesHashed;
    this.draw(`push ${p.phase}`, hashed + p.literalBytesSent, p.size + p.literalBytes, p.phase === 'done');
  }

  /** A pull: the version's bytes found in the local copy or fetched. */
  pull(p: PullProgress): void {
    this.draw(`pull ${p.phase}`, p.foundBytes + p.fetchedBytes, p.size, p.phase === 'done');
  }

  /** Clears the line (before the result or an error is printed). */
  clear(): void {
    if (this.draws > 0) this.out.write('\r\x1b[K');
  }

  private draw(label: string, done: number, total: number, last: boolean): void {
    const now = this.now();
    if (!last && now - this.lastDraw < EVERY_MS) return;
    this.lastDraw = now;
    this.draws++;
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? Math.max(0, (total - done) / rate) : Number.NaN;
    const width = 30;
    const fill = Math.round(share * width);
    this.out.write(
      `\r${label.padEnd(15)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(100 * share).toFixed(0).padStart(3)}% ` +
        `${mb(done)}/${mb(total)} ${(rate / 1e6).toFixed(1)} MB/s ETA ${Number.isNaN(eta) ? '?' : clock(eta)}\x1b[K`,
    );
  }
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
/** Seconds as m:ss (h:mm:ss past an hour). */
function clock(s: number): string {
  const t = Math.round(s);
  const [h, m, sec] = [Math.floor(t / 3600), Math.floor((t % 3600) / 60), t % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}
