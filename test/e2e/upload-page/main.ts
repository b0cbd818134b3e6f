// A web app's upload page, as test/e2e/browser-upload-token.test.ts drives it:
// the page asks its own backend (same origin) for an upload token for one key,
// then pushes the picked file to the deltaflare endpoint (another origin) with
// sync(file, { token }). Built by Vite; `deltaflare/browser` is aliased to the
// SDK's source by the test's Vite config.
import { DeltaflareError, sync, type SyncResult } from 'deltaflare/browser';

/** What one upload gave: the result, or the error's code and message. */
export interface Upload {
  result?: SyncResult;
  error?: { code: string; message: string; status?: number };
}

/**
 * Uploads the picked file to `key` on `endpoint`; with `tokenFor`, first gets
 * an upload token for that key from the app's backend (GET /upload-token).
 */
async function upload(opts: { endpoint: string; key: string; tokenFor?: string }): Promise<Upload> {
  const file = (document.getElementById('file') as HTMLInputElement).files![0];
  let token: string | undefined;
  if (opts.tokenFor !== undefined) {
    const res = await fetch(`/upload-token?key=${encodeURIComponent(opts.tokenFor)}`);
    if (!res.ok) throw new Error(`the app refused a token: ${res.status}`);
    token = ((await res.json()) as { token: string }).token;
  }
  try {
    return { result: await sync(file, { endpoint: opts.endpoint, key: opts.key, token }) };
  } catch (e) {
    if (!(e instanceof DeltaflareError)) throw e;
    return { error: { code: e.code, message: e.message, status: e.status } };
  }
}

(window as unknown as { upload: typeof upload }).upload = upload;
