// The fs store's sweep: sessions past their expiry (or from another boot) go
// with their staging areas; files a crash left behind (staging areas of no
// session, temp files, blobs of deleted sessions) go once ORPHAN_AGE_MS old.
import { join } from 'node:path';
import { ORPHAN_AGE_MS } from '../store.js';
import type { FsFacade } from './facade.js';
import { STAGING_ID } from './publish.js';
import type { FsSessions } from './sessions.js';

/** What the sweep needs of the store. */
export interface SweepHost {
  readonly fs: FsFacade;
  readonly stagingDir: string;
  readonly sessions: FsSessions;
  /** Removes a staging area. */
  discardStaging(id: string): Promise<void>;
  /** Forgets an in-place rewrite (the key stays INCOMPLETE: its bytes are torn). */
  endInPlace(key: string, id: string): void;
}

/** Ends expired sessions; answers their ids. */
export async function sweepStore(h: SweepHost, now: number): Promise<string[]> {
  const removed: string[] = [];
  const live = new Set<string>();
  const sessions = await h.sessions.all();
  for (const s of sessions) {
    if (s.expires > now && !s.lost) {
      live.add(s.stagingId);
      continue;
    }
    // Staging first, then the record: a crash in between leaves a record the next sweep finishes.
    if (STAGING_ID.test(s.stagingId)) await h.discardStaging(s.stagingId);
    else h.endInPlace(s.key, s.stagingId); // the key stays INCOMPLETE: its bytes are torn
    await h.sessions.delete(s.id);
    removed.push(s.id);
  }
  for (const [dir, pick] of [
    [h.stagingDir, (n: string) => STAGING_ID.test(n) && !live.has(n)],
    [h.sessions.dir, (n: string) => n.includes('.tmp-')], // temp files of writes cut off by a crash
    [h.sessions.dir, (n: string) => n.endsWith('.blobs') && !sessions.some((s) => `${s.id}.blobs` === n)], // blobs of deleted sessions
  ] as const) {
    for (const e of await h.fs.readdir(dir).catch(() => [])) {
      if (!pick(e.name)) continue;
      const st = await h.fs.lstat(join(dir, e.name)).catch(() => null);
      if (st && Number(st.mtimeMs) < now - ORPHAN_AGE_MS) await h.fs.rmTree(join(dir, e.name)).catch(() => undefined);
    }
  }
  return removed;
}
