// `deltaflare push` resumes by default: a push cut half-way (the connection
// to the endpoint cut by a proxy, every retry refused) and run again sends
// only what the endpoint lacks, from the record it kept on disk
// (sdk/node/file-resume-store.ts); --no-resume sends it all again.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../../worker/node/serve.js';
import { randomBytes } from '../support/bytes.js';
import { CutProxy } from '../support/cut-proxy.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-cli-resume-'));
let server: Awaited<ReturnType<typeof serve>>;
let proxy: CutProxy;
beforeAll(async () => {
  server = await serve({ dir: join(dir, 'store'), port: 0 });
  proxy = await CutProxy.start(Number(new URL(server.url).port));
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI; answers its exit code, its last stdout line parsed as JSON (the result or the error) and its stderr. */
function cli(args: string[]): Promise<{ code: number; json: Record<string, unknown>; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 1 << 24 }, (e, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(last) as Record<string, unknown>;
      } catch {
        // not --json: a line for people
      }
      resolve({ code: e ? Number(e.code ?? 1) : 0, json, stderr });
    });
  });
}

describe('deltaflare push, cut and run again', () => {
  it('should send only what had not landed (at most 60% of the file after a cut at half)', async () => {
    const size = 128 << 20;
    const file = join(dir, 'big.bin');
    writeFileSync(file, randomBytes(size, 1));
    const resumeDir = join(dir, 'resume');
    const args = [file, proxy.url, '--key', 'big.bin', '--json', '--resume-dir', resumeDir, '--timeout', '20', '--workers', '2'];
    const cut = proxy.cutAfter(size / 2);
    const first = await cli(['push', ...args]);
    await cut;
    expect(first.code).not.toBe(0); // cut, and its retries refused
    expect(readdirSync(resumeDir).some((f) => f.endsWith('.record.json'))).toBe(true);
    proxy.restore();
    const again = await cli(['push', ...args]);
    expect(again.code).toBe(0);
    expect(again.json.size).toBe(size);
    expect(again.json.bytesSent as number).toBeLessThanOrEqual(0.6 * size);
    // Committed: the record keeps the file's signature (an unchanged file is not hashed again), not the session.
    const record = readdirSync(resumeDir).find((f) => f.endsWith('.record.json'))!;
    expect(JSON.parse(readFileSync(join(resumeDir, record), 'utf8')).session).toBeUndefined();

    // Without resume, a cut push starts over.
    const cut2 = proxy.cutAfter(size / 2);
    const otherKey = [file, proxy.url, '--key', 'other.bin', '--json', '--no-resume', '--timeout', '20', '--workers', '2'];
    expect((await cli(['push', ...otherKey])).code).not.toBe(0);
    await cut2;
    proxy.restore();
    const full = await cli(['push', ...otherKey]);
    expect(full.code).toBe(0);
    expect(full.json.bytesSent as number).toBeGreaterThan(0.95 * size);
  }, 120_000);

  it('should draw one progress line with --progress (off by default when stderr is not a terminal), for push and pull', async () => {
    const file = join(dir, 'progress.bin');
    writeFileSync(file, randomBytes(16 << 20, 2));
    const quiet = await cli(['push', file, server.url, '--key', 'progress.bin', '--no-resume']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('ETA');
    const shown = await cli(['push', file, server.url, '--key', 'progress2.bin', '--no-resume', '--progress', '--json']);
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(/\rpush (signatures|uploading|done) +\[[#.]{30}\] +\d+% .* MB\/s ETA/);
    expect(shown.stderr.endsWith('\r\x1b[K')).toBe(true); // cleared before the result
    const pulled = await cli(['pull', server.url, join(dir, 'pulled.bin'), '--key', 'progress2.bin', '--progress', '--json']);
    expect(pulled.code).toBe(0);
    expect(pulled.stderr).toMatch(/\rpull (manifest|scanning|fetching|done) +\[/);
  }, 60_000);
});
