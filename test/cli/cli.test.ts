import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { hash as jitHash } from 'blake3-jit';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceChunks } from '../core/kernels/fastcdc-reference.js';
import { randomBytes } from '../support/bytes.js';

// The built CLI (npm test builds first), run as a user would.
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const RSS_PROBE = new URL('./report-rss.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', RSS_PROBE, CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rssKiB = Number(/maxrss-kib (\d+)/.exec(r.stderr)?.[1]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, rssMiB: rssKiB / 1024 };
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const random = randomBytes;

describe('deltaflare hash', () => {
  it('should print the same lines as b3sum', () => {
    const files = [file('empty', new Uint8Array(0)), file('small', random(1025, 1)), file('big', random(9 << 20, 2))];
    const ours = run(['hash', ...files]);
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(execFileSync('b3sum', files, { encoding: 'utf8' }));
  });

  it('should print zlib crc32 as 8 hex digits with --algo crc32', () => {
    const bytes = random(300_000, 3);
    const path = file('crc', bytes);
    const out = run(['hash', '--algo', 'crc32', path]).stdout;
    expect(out).toBe(`${zlib.crc32(bytes).toString(16).padStart(8, '0')}  ${path}\n`);
  });

  it('should hash a 4 GiB file in bounded memory', () => {
    const path = join(dir, 'sparse-4g');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 4 * 2 ** 30); // sparse: zeros without using disk
    closeSync(fd);
    const r = run(['hash', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(execFileSync('b3sum', [path], { encoding: 'utf8' }));
    expect(r.rssMiB).toBeLessThan(200);
    rmSync(path);
  }, 120_000);

  it('should exit 2 with the usage on bad arguments', () => {
    for (const args of [['hash'], ['hash', '--algo', 'md5', 'x'], ['hash', '--nope', 'x'], ['frobnicate'], []]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/Usage: deltaflare/);
    }
  });

  it('should exit non-zero naming the file when it cannot be read', () => {
    const r = run(['hash', join(dir, 'missing')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/missing/);
  });
});

describe('deltaflare chunks', () => {
  it("should print reference cut points with each chunk's CRC32 and BLAKE3", () => {
    const bytes = new Uint8Array(readFileSync(new URL('../fixtures/SekienAkashita.jpg', import.meta.url)));
    const big = new Uint8Array(bytes.length * 20);
    for (let i = 0; i < 20; i++) big.set(bytes, i * bytes.length);
    big.set(random(500_000, 4), 700_000);
    const path = file('image20', big);
    for (const p of [
      { min: 2048, avg: 8192, max: 65536, level: 1 },
      { min: 4096, avg: 16384, max: 65535, level: 3 },
    ]) {
      const r = run(['chunks', path, '--min', `${p.min}`, '--avg', `${p.avg}`, '--max', `${p.max}`, '--level', `${p.level}`]);
      expect(r.code).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' '));
      expect(lines.map((l) => Number(l[1]))).toEqual(referenceChunks(big, p));
      for (const [offset, length, crc, digest] of lines) {
        const piece = big.subarray(Number(offset), Number(offset) + Number(length));
        expect(crc).toBe(zlib.crc32(piece).toString(16).padStart(8, '0'));
        expect(digest).toBe(Buffer.from(jitHash(piece)).toString('hex'));
      }
    }
  });

  it('should use min 2048, avg 8192, max 65536, level 1 by default', () => {
    const bytes = random(3 << 20, 5);
    const r = run(['chunks', file('defaults', bytes)]);
    const lengths = r.stdout
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[1]));
    expect(lengths).toEqual(referenceChunks(bytes, { min: 2048, avg: 8192, max: 65536, level: 1 }));
  });

  it('should chunk a 1 GiB file in bounded memory', () => {
    const path = join(dir, 'sparse-1g');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 2 ** 30);
    closeSync(fd);
    const r = run(['chunks', path]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(2 ** 30 / 65536); // all zeros: max-size chunks
    expect(r.rssMiB).toBeLessThan(200);
    rmSync(path);
  }, 120_000);

  it('should name the limit when a parameter is outside it', () => {
    const path = file('tiny', random(10, 6));
    const cases: [string[], RegExp][] = [
      [['--min', '32'], /min 32 is below the minimum 64/],
      [['--avg', '8388608'], /avg 8388608 is above the maximum 4194304/],
      [['--max', '512'], /max 512 is below the minimum 1024/],
      [['--level', '4'], /level 4 is above the maximum 3/],
    ];
    for (const [args, message] of cases) {
      const r = run(['chunks', path, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(run(['chunks', path, '--avg', 'lots']).code).toBe(2);
  });
});

describe('deltaflare help, version and errors', () => {
  it("should print each command's own usage for --help, and the package version for --version", () => {
    for (const name of ['hash', 'chunks', 'serve', 'push', 'bench']) {
      const r = run([name, '--help']);
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toMatch(new RegExp(`^Usage: deltaflare ${name} `));
      expect(r.stdout, name).not.toMatch(/Commands:/);
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) expect(run([flag]).stdout).toBe(`${pkg.version}\n`);
  });

  it('should name the missing file and why, and with --json answer the error as JSON with its code', () => {
    const missing = join(dir, 'not-there.img');
    const plain = run(['push', missing, 'http://127.0.0.1:9']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(`cannot open ${missing}: no such file or folder (ENOENT)`);
    const json = run(['push', missing, 'http://127.0.0.1:9', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'ENOENT', message: expect.stringContaining(missing) } });
    const usage = run(['push', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error.code).toBe('USAGE');
  });

  it('should name the host and port and the cause when the endpoint cannot be reached', async () => {
    // A port nothing listens on: a server closed right after it got its port.
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = run(['push', file('reach.bin', random(10_000, 9)), `http://127.0.0.1:${port}/sync`, '--json', '--timeout', '5']);
    expect(r.code).toBe(1);
    const { error } = JSON.parse(r.stdout);
    expect(error.code).toBe('NETWORK');
    expect(error.message).toContain(`127.0.0.1:${port}: ECONNREFUSED`);
  }, 60_000);
});
