// The Worker's own isolate, seen through wrangler dev's inspector (Chrome
// DevTools Protocol): its JS heap in use, polled, and its CPU time from a
// sampling profile (samples not in "(idle)"). The local R2 and Durable
// Object simulation run in other isolates and are not counted.
import WebSocket from 'ws';

/** A DevTools session on wrangler dev's inspector port. */
export class Inspector {
  private next = 1;
  private readonly waiting = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id !== undefined) this.waiting.get(msg.id)?.(msg);
    });
  }

  /** Connects to the first target on `port`. */
  static async connect(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((res, rej) => ws.once('open', res).once('error', rej));
    return new Inspector(ws);
  }

  /** Sends one command and waits for its answer. */
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    return new Promise((res, rej) => {
      this.waiting.set(id, (r) => (r.error ? rej(new Error(`${method}: ${JSON.stringify(r.error)}`)) : res(r.result as T)));
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** JS heap in use, bytes. */
  async heapUsed(): Promise<number> {
    return (await this.send<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  }

  /** Starts a CPU profile sampling every `intervalUs` microseconds. */
  async startProfile(intervalUs = 500): Promise<void> {
    await this.send('Profiler.enable');
    await this.send('Profiler.setSamplingInterval', { interval: intervalUs });
    await this.send('Profiler.start');
  }

  /**
   * Stops the profile; answers the busy (non-idle) milliseconds it saw, and
   * those in script or wasm frames or GC ("own"). Locally, native frames of
   * binding calls (R2 get/put, stream writes) also include the simulator's
   * work, which on Cloudflare runs elsewhere; "own" leaves them out.
   */
  async stopProfile(): Promise<{ busy: number; js: number }> {
    const { profile } = await this.send<{
      profile: {
        nodes: Array<{ id: number; callFrame: { functionName: string; url?: string }; children?: number[] }>;
        samples: number[];
        timeDeltas: number[];
      };
    }>('Profiler.stop');
    const named = (name: string) => new Set(profile.nodes.filter((n) => n.callFrame.functionName === name).map((n) => n.id));
    const idle = named('(idle)');
    const own = new Set(profile.nodes.filter((n) => n.callFrame.url || n.callFrame.functionName === '(garbage collector)').map((n) => n.id));
    let busy = 0;
    let js = 0;
    // timeDeltas[i] is the time before sample i; charge it to the sample that ends it.
    for (let i = 0; i < profile.samples.length; i++) {
      if (idle.has(profile.samples[i])) continue;
      busy += profile.timeDeltas[i];
      if (own.has(profile.samples[i])) js += profile.timeDeltas[i];
    }
    if (process.env.PROFILE_TOP) {
      const self = new Map<string, number>();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      profile.samples.forEach((id, i) => {
        const f = byId.get(id)!.callFrame as { functionName: string; url?: string };
        const k = `${f.functionName} ${f.url?.split('/').slice(-2).join('/') ?? ''}`;
        self.set(k, (self.get(k) ?? 0) + profile.timeDeltas[i]);
      });
      console.error(
        [...self]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 15)
          .map(([k, v]) => `${(v / 1000).toFixed(0)} ms ${k}`)
          .join('\n'),
      );
      // Inclusive time: each sample charged once to every function on its stack.
      const parent = new Map<number, number>();
      for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
      const total = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const seen = new Set<string>();
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const f = byId.get(at)!.callFrame;
          if (!f.url) continue;
          const k = `${f.functionName} ${f.url.split('/').slice(-2).join('/')}`;
          if (seen.has(k)) continue;
          seen.add(k);
          total.set(k, (total.get(k) ?? 0) + profile.timeDeltas[i]);
        }
      });
      console.error(
        `inclusive:\n${[...total]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 30)
          .map(([k, v]) => `${(v / 1000).toFixed(0)} ms ${k}`)
          .join('\n')}`,
      );
    }
    return { busy: busy / 1000, js: js / 1000 };
  }

  close(): void {
    this.ws.close();
  }
}
