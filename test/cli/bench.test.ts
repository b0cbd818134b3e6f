import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concat, randomBytes } from '../support/bytes.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'deltaflare-bench-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('deltaflare bench', () => {
  const old = randomBytes(3 << 20, 1);
  const edited = concat(old.subarray(0, 1 << 20), randomBytes(50_000, 2), old.subarray(1 << 20));
  writeFileSync(join(dir, 'old'), old);
  writeFileSync(join(dir, 'new'), edited);

  it('should time each phase and count the literal bytes of a local sync', () => {
    const r = run(['bench', join(dir, 'old'), join(dir, 'new'), '--json', '--workers', '2']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.size).toBe(edited.length);
    // The insert costs the new bytes plus the chunks around it, far from the whole file.
    expect(s.literalBytes).toBeGreaterThanOrEqual(50_000);
    expect(s.literalBytes).toBeLessThan(250_000);
    for (const phase of ['signaturesAndMatch', 'planAndParts', 'rebuildAndCommit']) expect(s[phase]).toBeGreaterThanOrEqual(0);
  });

  it('should compare fixed blocks, which cannot follow an unaligned insert', () => {
    const r = run(['bench', join(dir, 'old'), join(dir, 'new'), '--chunking', 'fixed', '--block', '4096', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.literalBytes).toBeGreaterThan(edited.length / 2);
  });

  it('should exit 2 with the usage when a file is missing from the arguments', () => {
    const r = run(['bench', join(dir, 'old')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Usage: deltaflare/);
  });
});
