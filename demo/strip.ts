// The file as a strip: each pixel column is a slice of the file coloured by
// where its bytes come from: matched (copied from the basis on the server),
// uploaded (a part that landed), pending. While hashing, the part hashed so
// far is shaded. Redrawn at most once per animation frame.
import type { SyncLayout } from '../sdk/browser/index.js';

const colour = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();

/** Draws the state of one sync on a canvas. */
export class Strip {
  private size = 0;
  private hashedBytes = 0;
  private layout: SyncLayout | undefined;
  private readonly landed = new Set<number>();
  private queued = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    /** How the strip's text alternative names its two kinds of bytes (a pull: found locally, fetched). */
    private readonly words = { matched: 'matched', uploaded: 'uploaded' },
  ) {
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** Starts a new file of `size` bytes. */
  reset(size: number): void {
    this.size = size;
    this.hashedBytes = 0;
    this.layout = undefined;
    this.landed.clear();
    this.draw();
  }

  hashed(bytes: number): void {
    this.hashedBytes = bytes;
    this.draw();
  }

  planned(layout: SyncLayout): void {
    this.layout = layout;
    for (const p of layout.parts) if (p.landed) this.landed.add(p.part);
    this.draw();
  }

  partLanded(part: number): void {
    this.landed.add(part);
    this.draw();
  }

  /** Bytes matched, uploaded and pending, for the strip's text alternative. */
  summary(): { matched: number; uploaded: number; pending: number } {
    const sum = (r: Array<[number, number]>) => r.reduce((n, [, len]) => n + len, 0);
    const matched = this.layout ? sum(this.layout.matched) : 0;
    const uploaded = this.layout ? this.layout.parts.filter((p) => this.landed.has(p.part)).reduce((n, p) => n + sum(p.ranges), 0) : 0;
    return { matched, uploaded, pending: this.size - matched - uploaded };
  }

  private draw(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.paint();
    });
  }

  private paint(): void {
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    c.width = Math.max(1, Math.round(c.clientWidth * ratio));
    c.height = Math.max(1, Math.round(c.clientHeight * ratio));
    const g = c.getContext('2d')!;
    g.fillStyle = colour('pending');
    g.fillRect(0, 0, c.width, c.height);
    if (!this.size) return;
    const x = (offset: number) => (offset / this.size) * c.width;
    // At least a pixel per range, so a small edit stays visible in a large file.
    // Whole pixels: fractional edges would antialias into seams between adjacent ranges.
    const fill = (offset: number, length: number) => {
      const a = Math.floor(x(offset));
      g.fillRect(a, 0, Math.max(1, Math.ceil(x(offset + length)) - a), c.height);
    };
    if (!this.layout) {
      g.fillStyle = colour('hashed');
      fill(0, this.hashedBytes);
    } else {
      g.fillStyle = colour('matched');
      for (const [offset, length] of this.layout.matched) fill(offset, length);
      g.fillStyle = colour('uploaded');
      for (const p of this.layout.parts) if (this.landed.has(p.part)) for (const [offset, length] of p.ranges) fill(offset, length);
    }
    const s = this.summary();
    c.setAttribute(
      'aria-label',
      this.layout
        ? `File strip: ${mb(s.matched)} ${this.words.matched}, ${mb(s.uploaded)} ${this.words.uploaded}, ${mb(s.pending)} pending`
        : `File strip: ${mb(this.hashedBytes)} of ${mb(this.size)} hashed`,
    );
  }
}

/** Bytes as MB with one decimal (10^6, as rates are given). */
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
