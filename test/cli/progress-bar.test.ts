// The CLI's progress line (cli/progress-bar.ts): one bar for the whole push
// or pull that only moves forward, at most one redraw per 100 ms of a given
// clock, with rate and time left; cleared before the result is printed.
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../cli/progress-bar.js';
import type { SyncProgress } from '../../sdk/push/progress.js';

function recorder() {
  const lines: string[] = [];
  let t = 0;
  const bar = new ProgressBar({ write: (s: string) => lines.push(s) }, () => t);
  return { bar, lines, tick: (ms: number) => (t += ms) };
}

const push = (o: Partial<SyncProgress>): SyncProgress => ({
  phase: 'signatures',
  size: 100e6,
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
  ...o,
});

describe('progress bar', () => {
  it('should draw one bar over hashing and sending, never going back at a phase change, at most every 100 ms', () => {
    const { bar, lines, tick } = recorder();
    const shares: number[] = [];
    const steps = [
      push({ bytesHashed: 50e6, literalBytes: 10e6 }),
      push({ bytesHashed: 100e6, literalBytes: 20e6, literalBytesSent: 5e6 }),
      push({ phase: 'uploading', bytesHashed: 100e6, literalBytes: 20e6, literalBytesSent: 10e6 }),
      push({ phase: 'uploading', bytesHashed: 100e6, literalBytes: 20e6, literalBytesSent: 20e6 }),
    ];
    for (const p of steps) {
      tick(1000);
      bar.push(p);
      shares.push(Number(/(\d+)%/.exec(lines[lines.length - 1])![1]));
    }
    expect(shares).toEqual([45, 88, 92, 100]); // (hashed + sent) / (size + literal), monotone across the phase change
    expect(lines[lines.length - 1]).toMatch(/120\.0 MB\/120\.0 MB 30\.0 MB\/s ETA 0:00/);
    bar.push(steps[3]); // no time passed: not drawn again
    expect(bar.draws).toBe(4);
    bar.clear();
    expect(lines[lines.length - 1]).toBe('\r\x1b[K');
  });

  it('should draw a pull as the bytes found and fetched of the version, and its last report always', () => {
    const { bar, lines, tick } = recorder();
    tick(2000);
    bar.pull({ phase: 'fetching', size: 200e6, foundBytes: 150e6, fetchedBytes: 10e6, rate: 0, eta: 0 });
    expect(lines[0]).toMatch(/pull fetching +\[#{24}\.{6}\] +80% 160\.0 MB\/200\.0 MB 80\.0 MB\/s ETA 0:01/);
    bar.pull({ phase: 'done', size: 200e6, foundBytes: 150e6, fetchedBytes: 50e6, rate: 0, eta: 0 }); // at once, but the last
    expect(bar.draws).toBe(2);
    expect(ProgressBar.wanted(true, true)).toBe(true);
    expect(ProgressBar.wanted(false, false)).toBe(false);
  });
});
