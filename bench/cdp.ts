// Headless Chromium driven over the DevTools protocol directly, for
// benchmarks. Playwright enables the Network domain on every page it drives,
// and with it Chromium copies request bodies for the inspector: an 8 MiB
// Uint8Array body took ~2 s under Playwright against ~0.25 s without (same
// page, same machine). A benchmark must measure what users' browsers do, so
// it speaks to Chromium itself and enables nothing it does not need.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CHROMIUM, CHROMIUM_FLAGS } from '../test/support/chromium.js';

type Message = {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
};

/** One browser, one WebSocket; pages are flat sessions on it. */
export class Chromium {
  private id = 0;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: Message) => void>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly ws: WebSocket,
    /** The profile folder: renderer processes are found by it (test/support/processes.ts). */
    readonly profile: string,
  ) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Message;
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error.message));
        else p?.resolve(m.result ?? {});
      } else for (const l of this.listeners) l(m);
    });
  }

  /** Starts Debian's Chromium with a fresh profile. */
  static async launch(): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'deltaflare-cdp-'));
    const child = spawn(CHROMIUM, ['--headless', ...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true, // its own process group: close() ends every Chromium process at once
    });
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\S+)/.exec(err);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`chromium exited (${code}): ${err}`)));
    });
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Chromium(child, ws, profile);
  }

  /** The browser's version string. */
  async version(): Promise<string> {
    return String((await this.send('Browser.getVersion')).product);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  /** Opens `url` in a new tab and waits for its load event. */
  async open(url: string): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const page = new Page(this, String(sessionId), String(targetId));
    await page.goto(url);
    return page;
  }

  on(listener: (m: Message) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.ws.close();
    const exited = new Promise((r) => this.child.once('exit', r));
    process.kill(-this.child.pid!, 'SIGKILL');
    await exited;
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 5 });
  }
}

/** One tab. */
export class Page {
  constructor(
    readonly browser: Chromium,
    readonly sessionId: string,
    readonly targetId: string,
  ) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  async goto(url: string): Promise<void> {
    await this.send('Page.enable');
    const loaded = new Promise<void>((resolve) => {
      const off = this.browser.on((m) => {
        if (m.sessionId === this.sessionId && m.method === 'Page.loadEventFired') {
          off();
          resolve();
        }
      });
    });
    await this.send('Page.navigate', { url });
    await loaded;
    await this.send('Page.disable');
  }

  /** Evaluates `expression` (awaiting a promise) and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
      result: { value: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Sets the files of the <input type=file> matching `selector` (fires its change event). */
  async setFiles(selector: string, files: string[]): Promise<void> {
    const { root } = (await this.send('DOM.getDocument')) as { root: { nodeId: number } };
    const { nodeId } = (await this.send('DOM.querySelector', { nodeId: root.nodeId, selector })) as { nodeId: number };
    if (!nodeId) throw new Error(`page: no element ${selector}`);
    await this.send('DOM.setFileInputFiles', { nodeId, files });
  }

  /** Polls `expression` until it is truthy (every 100 ms) and returns its value. */
  async waitFor<T>(expression: string, timeoutMs = 600_000): Promise<T> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const v = await this.evaluate<T>(expression);
      if (v) return v;
      if (performance.now() > until) throw new Error(`page: ${expression} still false after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.browser.send('Target.closeTarget', { targetId: this.targetId });
  }
}
