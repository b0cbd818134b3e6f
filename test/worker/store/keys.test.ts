import { describe, expect, it } from 'vitest';
import { MAX_KEY_BYTES, validateKey, validatePrefix } from '../../../worker/store/keys.js';
import { StoreError } from '../../../worker/store/store.js';
import { HOSTILE_KEYS } from './suite.js';

/** The INVALID_KEY message for `key`, or null if it is accepted. */
function reason(key: string): string | null {
  try {
    validateKey(key);
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('INVALID_KEY');
    return (e as StoreError).message;
  }
}

/** A key of exactly `bytes` UTF-8 bytes: segments of 100 `ch` (200 bytes at most) joined by "/", padded with "a". */
function longKey(ch: string, bytes: number): string {
  const size = (s: string) => new TextEncoder().encode(s).length;
  let key = '';
  while (size(key) + size(`/${ch.repeat(100)}`) < bytes) key += (key ? '/' : '') + ch.repeat(100);
  while (size(key) < bytes) key += 'a';
  expect(size(key)).toBe(bytes);
  return key;
}

describe('validateKey', () => {
  it('should accept ordinary keys, dots inside names, spaces, unicode and literal percent signs', () => {
    for (const k of ['disk.img', 'a/b/c.tar.gz', '.hidden', 'a/..b', 'x..', 'with space', 'ünïcødé/日本', '100%', '50%off', longKey('a', MAX_KEY_BYTES)]) {
      expect(reason(k), k).toBeNull();
    }
  });

  it('should refuse every hostile key of the shared suite', () => {
    for (const k of HOSTILE_KEYS) expect(reason(k), JSON.stringify(k)).not.toBeNull();
  });

  it('should name the rule a key broke', () => {
    expect(reason('a/../b')).toMatch(/".." segment/);
    expect(reason('/abs')).toMatch(/absolute path/);
    expect(reason('a//b')).toMatch(/empty segment at position 1/);
    expect(reason('a\\b')).toMatch(/backslash/);
    expect(reason('a\u0000b')).toMatch(/control character U\+0000/);
    expect(reason('x'.repeat(1025))).toMatch(/1025 bytes of UTF-8, above the limit 1024/);
    expect(reason('%2e%2e/x')).toMatch(/".." segment after 1 percent-decoding/);
    expect(reason('%252e%252e/x')).toMatch(/".." segment after 2 percent-decodings/);
    expect(reason('a/%2e')).toMatch(/"\." segment after 1 percent-decoding/);
    expect(reason('%c0%ae')).toMatch(/not valid UTF-8/);
    expect(reason('.deltaflare')).toMatch(/metadata folder/);
  });

  it('should count the byte limit in UTF-8 bytes, not characters', () => {
    expect(reason(longKey('é', 1024))).toBeNull();
    expect(reason(longKey('é', 1026))).toMatch(/1026 bytes/);
    expect(reason('é'.repeat(128))).toMatch(/segment of 256 bytes, above the limit 255/);
  });
});

describe('validatePrefix', () => {
  it('should accept the empty prefix and partial segments, and refuse prefixes no key can start with', () => {
    for (const p of ['', 'a', 'a/', 'a/.', 'a/..', 'dir/sub']) expect(() => validatePrefix(p), p).not.toThrow();
    for (const p of ['/', '../', 'a/../', 'a//', '.deltaflare', 'a\\']) expect(() => validatePrefix(p), p).toThrow(StoreError);
  });
});
