// A TCP relay on loopback that counts the bytes crossing it in each direction
// and can emulate a WAN link: a bandwidth cap per direction and a one-way
// delay (half the round-trip time). Both sync tools run through it, so their
// bytes on the wire are counted at the socket the same way.
import { createServer, type Server, type Socket, connect } from 'node:net';

export interface RelayOptions {
  /** Where to forward, e.g. { host: '127.0.0.1', port: 19876 }. */
  target: { host: string; port: number };
  /** Bits per second per direction (default: unlimited). */
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
    pipe(client, upstream, (n) => (up += n), options);
    pipe(upstream, client, (n) => (down += n), options);
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
 * would have finished sending it (a token bucket with no burst), then held for
 * the one-way delay, so a 100 Mbit/s, 35 ms link behaves like one for TCP.
 */
function pipe(from: Socket, to: Socket, count: (n: number) => void, o: RelayOptions): void {
  const delay = (o.rttMs ?? 0) / 2;
  const bytesPerMs = o.rate ? o.rate / 8 / 1000 : Infinity;
  let linkFreeAt = 0; // when the emulated link has sent everything queued so far
  let queued = 0;
  from.on('data', (piece: Buffer) => {
    count(piece.length);
    if (!o.rate && !delay) {
      if (!to.write(piece)) from.pause();
      return;
    }
    const now = performance.now();
    linkFreeAt = Math.max(linkFreeAt, now) + piece.length / bytesPerMs;
    const at = linkFreeAt + delay;
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
  from.on('end', () => setTimeout(() => to.end(), Math.max(0, linkFreeAt + delay - performance.now())));
}
