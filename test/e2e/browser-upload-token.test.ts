// A browser upload authorized by a web app, in real Chromium: the deltaflare
// endpoint (Node, on loopback) needs a write token and allows the app's origin
// (CORS); the "web app" is a second server on another port that serves its
// page (test/e2e/upload-page, built by Vite) and signs upload tokens with
// the endpoint's token (signUploadToken), as a backend would after checking
// who asks. The page pushes the picked file with sync(file, { token }) from
// deltaflare/browser.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUploadToken } from '../../sdk/node/index.js';
import { serve, type ServeHandle } from '../../worker/node/serve.js';
import { buildPage } from '../support/build-page.js';
import { launchChromium } from '../support/chromium.js';
import type { Upload } from './upload-page/main.js';

const TOKEN = 'browser-write-token-51c9-0123456789ab'; // signs upload tokens: 32 characters or more
const MiB = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-browser-token-'));
const store = join(dir, 'store');
const built = join(dir, 'page');
let endpoint: ServeHandle;
let app: Server;
let appUrl: string;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let page: Page;
/** Keys the web app signed tokens for, in order. */
const signed: string[] = [];

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** The web app: its built page, and GET /upload-token?key=K -> { token } good for K for 10 minutes. */
function startApp(): Promise<string> {
  app = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://app');
    if (url.pathname === '/upload-token') {
      const key = url.searchParams.get('key') ?? '';
      signed.push(key);
      const token = await signUploadToken({ secret: TOKEN, key, expires: Date.now() / 1000 + 600 });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token }));
      return;
    }
    const file = join(built, normalize(url.pathname === '/' ? '/index.html' : url.pathname));
    if (!file.startsWith(built) || !existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((resolve) => app.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(app.address() as { port: number }).port}`)));
}

beforeAll(async () => {
  await buildPage(join(import.meta.dirname, 'upload-page'), built);
  appUrl = await startApp();
  endpoint = await serve({ dir: store, port: 0, access: { token: TOKEN }, corsOrigins: [appUrl] });
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.on('pageerror', (e) => process.stderr.write(`chromium: ${e.message}\n`));
  await page.goto(`${appUrl}/`);
  await page.waitForFunction(() => 'upload' in window);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await endpoint?.close();
  app?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Picks `path` in the page's file input and uploads it to `key`, with a token for `tokenFor` if given. */
async function upload(path: string, key: string, tokenFor?: string): Promise<Upload> {
  await page.setInputFiles('#file', path);
  return page.evaluate((o) => (window as unknown as { upload: (o: object) => Promise<Upload> }).upload(o), { endpoint: endpoint.url, key, tokenFor });
}

const stored = (key: string) => (existsSync(join(store, key)) ? readFileSync(join(store, key)) : null);

describe('browser upload with an upload token from the web app', () => {
  const key = 'users/7/avatar.bin';
  const file = join(dir, 'avatar.bin');

  it('should fail with a clear UNAUTHORIZED error without a token, storing nothing', async () => {
    writeFileSync(file, randomBytes(8 * MiB));
    const { result, error } = await upload(file, key);
    expect(result).toBeUndefined();
    expect(error?.code).toBe('UNAUTHORIZED');
    expect(error?.status).toBe(401);
    expect(error?.message).toContain('this endpoint needs a token for writes: send Authorization: Bearer <token>');
    expect(stored(key)).toBeNull();
  });

  it('should upload the picked file with a token for its key, then only the edits of a new version, byte for byte', async () => {
    const first = await upload(file, key, key);
    expect(first.error).toBeUndefined();
    expect(first.result!.literalBytes).toBe(8 * MiB);
    expect(stored(key)!.equals(readFileSync(file))).toBe(true);

    const old = readFileSync(file);
    const edited = Buffer.concat([old.subarray(0, 3 * MiB), randomBytes(100_000), old.subarray(3 * MiB)]);
    randomBytes(4096).copy(edited, 6 * MiB);
    writeFileSync(file, edited);
    const second = await upload(file, key, key);
    expect(second.error).toBeUndefined();
    expect(second.result!.literalBytes).toBeLessThan(MiB);
    expect(stored(key)!.equals(edited)).toBe(true);
    expect(signed).toEqual([key, key]);
  });

  it('should be refused (FORBIDDEN) with a token for another key, leaving both keys as they were', async () => {
    const before = stored(key)!;
    const other = join(dir, 'other.bin');
    writeFileSync(other, randomBytes(2 * MiB));
    const { result, error } = await upload(other, 'users/8/avatar.bin', key);
    expect(result).toBeUndefined();
    expect(error?.code).toBe('FORBIDDEN');
    expect(error?.status).toBe(403);
    expect(error?.message).toContain(`upload token is for key "${key}", not key "users/8/avatar.bin"`);
    expect(stored('users/8/avatar.bin')).toBeNull();
    expect(stored(key)!.equals(before)).toBe(true);
  });
});
