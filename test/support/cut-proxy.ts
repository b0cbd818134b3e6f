// A loopback TCP proxy the browser tests talk through, so they can cut the
// connection at a chosen point: after N more bytes from the client, every
// socket is destroyed and new ones are refused until restore().
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * Forwards 127.0.0.1:<own port> to 127.0.0.1:`targetPort`.
 * @example const proxy = await CutProxy.start(port); proxy.cutAfter(40 << 20); ... proxy.restore();
 */
export class CutProxy {
  /** Bytes the clients sent through the proxy so far (request lines, headers, bodies). */
  upstreamBytes = 0;
  private readonly sockets = new Set<Socket>();
  private down = false;
  private cutAt = Infinity;
  private onCut: (() => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<CutProxy> {
    let proxy!: CutProxy;
    const server = createServer((client) => proxy.accept(client));
    proxy = new CutProxy(server, targetPort);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** Cuts every connection once clients have sent `bytes` more; resolves then. */
  cutAfter(bytes: number): Promise<void> {
    this.cutAt = this.upstreamBytes + bytes;
    return new Promise((resolve) => (this.onCut = resolve));
  }

  /** Destroys every connection now and refuses new ones. */
  cut(): void {
    this.down = true;
    this.cutAt = Infinity;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.onCut?.();
    this.onCut = undefined;
  }

  /** Accepts connections again. */
  restore(): void {
    this.down = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.down) return void client.destroy();
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      if (this.upstreamBytes + chunk.length >= this.cutAt) {
        this.upstreamBytes = this.cutAt; // the rest of this chunk never reaches the server
        return this.cut();
      }
      this.upstreamBytes += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
  }
}
