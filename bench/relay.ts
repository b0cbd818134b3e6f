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
 * (one per direction, shared by all connections) would have finished sending it (a token bucket with no burst), then held for
 * the one-way delay, so a 100 Mbit/s, 35 ms link behaves like one for TCP.
 */
function pipe(from: Socket, to: Socket, count: (n: number) => void, link: { freeAt: number }, o: RelayOptions): void {
  const delay = (o.rttMs ?? 0) / 2;
  const bytesPerMs = o.rate ? o.rate / 8 / 1000 : Infinity;
  let lastAt = 0; // when this connection's last piece arrives: pieces of one connection stay in order
  let queued = 0;
  from.on('data', (piece: Buffer) => {
    count(piece.length);
    if (!o.rate && !delay) {
      if (!to.write(piece)) from.pause();
      return;
    }
    const now = performance.now();
    // The link (shared with the other connections) has sent everything queued before this piece at link.freeAt.
    link.freeAt = Math.max(link.freeAt, now) + piece.length / bytesPerMs;
    const at = (lastAt = Math.max(lastAt, link.freeAt + delay));
    queued += piece.length;
    // Backpressure: stop reading while more than a bandwidth-delay product waits.
    if (queued > Math.max(1 << 20, bytesPerMs * (delay * 2 + 10))) from.pause();
    setTimeout(() => {
      queued -= piece.length;
      to.write(piece);
      if (from.isPaused() && queued < (1 << 19)) from.resume();
    }, Math.max(0, at - now));
  });
  to.on('drain', () => from.resume());
  from.on('end', () => setTimeout(() => to.end(), Math.max(0, lastAt - performance.now())));
}
