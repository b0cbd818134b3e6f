// A TCP relay on loopback that counts the bytes crossing it in each direction
// and can emulate a WAN link: a bandwidth cap per direction and a one-way
// delay (half the round-trip time). Both sync tools run through it, so their
// bytes on the wire are counted at the socket the same way.
import { createServer, type Server, type Socket, connect } from 'node:net';

export interface RelayOptions {
  /** Where to forward, e.g. { host: '127.0.0.1', port: 19876 }. */
  target: { host: string; port: number };
  /** Bits per second per direction, shared by all connections as on one link (default: unlimited). */
  rate?: number;
  /** Round-trip time added, ms (default 0): each direction delays by half. */
  rttMs?: number;
}

export interface Relay {
  port: number;
  /** Bytes client -> target and target -> client since the last reset. */
  counts(): { up: number; down: number };
  reset(): void;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 (a free port). */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  // One emulated link per direction, shared by every connection: a client
  // opening 4 connections must not get 4x the bandwidth (rsync uses one).
  const uplink = { freeAt: 0 };
  const downlink = { freeAt: 0 };
  const server: Server = createServer((client) => {
    const upstream = connect(options.target.port, options.target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream, (n) => (up += n), uplink, options);
    pipe(upstream, client, (n) => (down += n), downlink, options);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    counts: () => ({ up, down }),
    reset: () => {
      up = 0;
      down = 0;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Forwards `from` to `to`. With a rate, each piece is released when the link
 * (one per direction, shared by all connections) would have finished sending
 * it (a token bucket with no burst), then held for the one-way delay, so a
 * 100 Mbit/s, 35 ms link behaves like one for TCP. A connection's pieces
 * wait in one queue drained by one timer: a timer per piece could fire out
 * of order (timers round to whole ms) and scramble the byte stream.
 */
function pipe(from: Socket, to: Socket, count: (n: number) => void, link: { freeAt: number }, o: RelayOptions): void {
  const delay = (o.rttMs ?? 0) / 2;
  const bytesPerMs = o.rate ? o.rate / 8 / 1000 : Infinity;
  const queue: Array<{ piece: Buffer; at: number }> = [];
  let queued = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].at <= now) {
      const { piece } = queue.shift()!;
      queued -= piece.length;
      to.write(piece);
    }
    if (from.isPaused() && queued < 1 << 19) from.resume();
    if (queue.length) timer = setTimeout(drain, Math.max(1, Math.ceil(queue[0].at - now)));
    else if (ended) to.end();
  };
  from.on('data', (piece: Buffer) => {
    count(piece.length);
    if (!o.rate && !delay) {
      if (!to.write(piece)) from.pause();
      return;
    }
    const now = performance.now();
    // The link (shared with the other connections) has sent everything queued before this piece at link.freeAt.
    link.freeAt = Math.max(link.freeAt, now) + piece.length / bytesPerMs;
    queue.push({ piece, at: Math.max(queue.length ? queue[queue.length - 1].at : 0, link.freeAt + delay) });
    queued += piece.length;
    // Backpressure: stop reading while more than a bandwidth-delay product waits.
    if (queued > Math.max(1 << 20, bytesPerMs * (delay * 2 + 10))) from.pause();
    timer ??= setTimeout(drain, Math.max(0, Math.ceil(queue[0].at - now)));
  });
  to.on('drain', () => from.resume());
  from.on('end', () => {
    ended = true;
    if (!queue.length && !timer) to.end();
  });
}
