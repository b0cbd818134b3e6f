// What keeps idle and stalled sockets from using up a Node server's file
// descriptors: Node closes neither a socket that never sends a request nor a
// response whose client stopped reading (its headersTimeout and
// requestTimeout start with a request). A sweep every few seconds closes
// sockets with no request in progress that moved no byte for idleMs, and
// responses that moved no byte for stallMs while bytes wait to be sent; one
// client address holds at most maxPerClient sockets, and all of them at most
// maxConnections (half the process's file limit: a socket may hold a store
// file), a new one taking the place of the socket idle, or stalled, the
// longest.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { OptionKeys } from '../../core/base/options.js';

export interface ConnectionLimits {
  /** A socket with no request in progress that sends and receives nothing this long is closed (ms). */
  idleMs: number;
  /** A response whose client reads nothing this long, bytes waiting to be sent, is closed (ms). */
  stallMs: number;
  /** Time to receive a request's headers (ms): Node's headersTimeout. */
  headersMs: number;
  /** Time to receive a whole request, body included (ms): Node's requestTimeout; an 8 MiB part needs ~0.25 Mbit/s for 300 s. */
  requestMs: number;
  /** Time a kept-alive socket waits for its next request (ms): Node's keepAliveTimeout. */
  keepAliveMs: number;
  /** Sockets one client address may hold open; more are closed at once. */
  maxPerClient: number;
  /**
   * Sockets in all (default: half the process's open-file limit less 64, at
   * most 16,384: each may hold a store file open). When full, a new socket
   * closes the one idle the longest (no request in progress), or is closed.
   */
  maxConnections: number;
}

/** Every key of ConnectionLimits, for checking `serve({ connections })`. */
export const CONNECTION_OPTIONS: OptionKeys<ConnectionLimits> = {
  idleMs: true,
  stallMs: true,
  headersMs: true,
  requestMs: true,
  keepAliveMs: true,
  maxPerClient: true,
  maxConnections: true,
};

export const CONNECTION_DEFAULTS: Omit<ConnectionLimits, 'maxConnections'> = {
  idleMs: 30_000,
  stallMs: 60_000,
  headersMs: 20_000,
  requestMs: 300_000,
  keepAliveMs: 5_000,
  maxPerClient: 256,
};

/** The soft limit on open files of this process (Linux), or null where it cannot be read. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface Tracked {
  client: string;
  read: number;
  written: number;
  since: number;
  requests: number;
}

/** Applies `limits` to `server`; answers what it tracks (tests read `sockets`) and a stop. */
export function guardConnections(server: Server, limits: Partial<ConnectionLimits> = {}): { sockets(): number; stop(): void } {
  const l: ConnectionLimits = {
    ...CONNECTION_DEFAULTS,
    maxConnections: Math.min(16_384, Math.max(32, Math.floor(((openFileLimit() ?? 4096) - 64) / 2))),
    ...limits,
  };
  server.headersTimeout = l.headersMs;
  server.requestTimeout = l.requestMs;
  server.keepAliveTimeout = l.keepAliveMs;
  const tracked = new Map<Socket, Tracked>();
  const perClient = new Map<string, number>();

  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? '';
    const n = (perClient.get(client) ?? 0) + 1;
    if (n > l.maxPerClient || (tracked.size >= l.maxConnections && !evictIdle())) {
      socket.destroy();
      return;
    }
    perClient.set(client, n);
    tracked.set(socket, { client, read: 0, written: 0, since: Date.now(), requests: 0 });
    socket.once('close', () => {
      tracked.delete(socket);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const t = tracked.get(req.socket);
    if (!t) return;
    t.requests++;
    t.since = Date.now();
    res.once('close', () => {
      t.requests--;
      t.since = Date.now();
    });
  });

  /**
   * Closes the socket idle the longest (no request in progress), else the
   * response stalled the longest (bytes waiting, none sent since the last
   * look); false if every socket is moving bytes or working.
   */
  const evictIdle = (): boolean => {
    let idle: [Socket, Tracked] | undefined;
    let stalled: [Socket, Tracked] | undefined;
    for (const entry of tracked) {
      const [socket, t] = entry;
      if (t.requests === 0) {
        if (!idle || t.since < idle[1].since) idle = entry;
      } else if (socket.writableLength > 0 && socket.bytesWritten === t.written && (!stalled || t.since < stalled[1].since)) stalled = entry;
    }
    const victim = idle ?? stalled;
    if (!victim) return false;
    tracked.delete(victim[0]); // counted out now: its close event comes later
    victim[0].destroy();
    return true;
  };

  const sweep = () => {
    const now = Date.now();
    for (const [socket, t] of tracked) {
      if (socket.bytesRead !== t.read || socket.bytesWritten !== t.written) {
        t.read = socket.bytesRead;
        t.written = socket.bytesWritten;
        t.since = now;
        continue;
      }
      // A request in progress with nothing waiting to be sent is the server's own work (a commit, a store read).
      const waiting = socket.writableLength > 0;
      const limit = t.requests === 0 ? l.idleMs : waiting ? l.stallMs : Number.POSITIVE_INFINITY;
      if (now - t.since > limit) socket.destroy();
    }
  };
  const timer = setInterval(sweep, Math.max(100, Math.min(l.idleMs, l.stallMs) / 4));
  timer.unref();
  server.once('close', () => clearInterval(timer));
  return { sockets: () => tracked.size, stop: () => clearInterval(timer) };
}
