// Benchmark inputs: deterministic pseudo-random files (xorshift32), written
// in 8 MiB pieces so a 1 GiB file never sits in memory whole.
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';

const MiB = 1 << 20;
const PIECE = 8 * MiB;

/** `size` pseudo-random bytes from `seed`, in pieces of at most 8 MiB (the same bytes for the same seed). */
export function* randomPieces(size: number, seed: number): Generator<Uint8Array> {
  let x = seed >>> 0 || 1;
  for (let at = 0; at < size; at += PIECE) {
    const piece = new Uint8Array(Math.min(PIECE, size - at));
    const words = new Uint32Array(piece.buffer, 0, piece.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield piece;
  }
}

/**
 * Writes `size` pseudo-random bytes from `seed` to `path`; `edit` may change
 * each piece (at file offset `at`) before it is written, and `insert` adds
 * `bytes` pseudo-random bytes from its own seed at offset `at`.
 */
export function writeRandom(
  path: string,
  size: number,
  seed: number,
  o: { edit?: (at: number, piece: Uint8Array) => void; insert?: { at: number; bytes: number; seed: number } } = {},
): void {
  const fd = openSync(path, 'w');
  let at = 0;
  for (const piece of randomPieces(size, seed)) {
    o.edit?.(at, piece);
    const cut = o.insert && o.insert.at >= at && o.insert.at < at + piece.length ? o.insert.at - at : -1;
    if (cut < 0) writeSync(fd, piece);
    else {
      writeSync(fd, piece.subarray(0, cut));
      for (const p of randomPieces(o.insert!.bytes, o.insert!.seed)) writeSync(fd, p);
      writeSync(fd, piece.subarray(cut));
    }
    at += piece.length;
  }
  closeSync(fd);
}

/**
 * The VM-image case of the sync and pull benchmarks: `oldPath` is `size`
 * pseudo-random bytes, `newPath` the same with 256 scattered 4 KiB
 * overwrites at 4 KiB-aligned offsets (the same offsets every run).
 */
export function writeVmImages(oldPath: string, newPath: string, size: number): void {
  writeRandom(oldPath, size, 3);
  const offsets = new Set<number>();
  let x = 12345;
  while (offsets.size < 256) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    offsets.add((x % (size / 4096)) * 4096);
  }
  writeRandom(newPath, size, 3, {
    edit: (at, piece) => {
      for (const o of offsets) if (o >= at && o < at + piece.length) piece.fill(0xa5 ^ (o & 0xff), o - at, o - at + 4096);
    },
  });
}

/** Whether two files hold the same bytes (compared in 8 MiB pieces). */
export function sameBytes(a: string, b: string): boolean {
  if (statSync(a).size !== statSync(b).size) return false;
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  const ba = Buffer.alloc(PIECE);
  const bb = Buffer.alloc(PIECE);
  try {
    for (let pos = 0; ; pos += PIECE) {
      const na = readSync(fa, ba, 0, PIECE, pos);
      const nb = readSync(fb, bb, 0, PIECE, pos);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}
