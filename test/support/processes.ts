// A Chromium's renderer processes and their memory, read from /proc (Linux):
// a page and its dedicated Web Workers run in its renderer process.
import { readdirSync, readFileSync } from 'node:fs';

/** The renderer processes of the browser whose profile is `profile` (a scan of every process). */
export function renderers(profile: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes('--type=renderer') && cmdline.includes(`--user-data-dir=${profile}`)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Private resident memory of a process in bytes: anonymous and shared memory, not file-backed pages (0 once it is gone). */
export function privateMemory(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return (kb('RssAnon') + kb('RssShmem')) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Samples the largest renderer's memory every `everyMs` until stopped;
 * returns its peak in bytes. Renderers are looked up once a second (a scan of
 * every process is too costly to run beside a benchmark every 50 ms).
 */
export function samplePeak(profile: string, everyMs = 50): { stop(): number } {
  let peak = 0;
  let pids: number[] = [];
  let scanned = -Infinity;
  const tick = () => {
    if (performance.now() - scanned > 1000) [pids, scanned] = [renderers(profile), performance.now()];
    for (const pid of pids) peak = Math.max(peak, privateMemory(pid));
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return peak;
    },
  };
}
