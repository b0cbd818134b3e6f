// BLAKE3 (hash mode, 32-byte digests) over the wasm kernel (assembly/blake3.ts).
// Inputs of any size go through scratch in bounded pieces: `feed` for one
// input, groups of at most GROUP_BYTES for blake3Chunks.
import { DeltaflareError } from '../base/errors.js';
import { type KernelInstance, PIECE } from './instance.js';

/** Digest length, bytes. */
const OUT = 32;
/**
 * Bytes of input per blake3Chunks kernel call: the group stays in L2 (1 MiB on
 * Zen 4) between the copy and the hashing. Measured on 256 MiB of 2-64 KiB
 * chunks (CPU time, loaded machine): 256 KiB 1.48-1.67 GB/s, 1 MiB 1.59,
 * 4 MiB 1.30. A chunk larger than this is hashed on its own, streamed.
 */
const GROUP_BYTES = 256 * 1024;
/** Chunks per blake3Chunks kernel call, so empty chunks cannot make the work area unbounded. */
const GROUP_COUNT = 16384;

/**
 * The module holds one incremental state. The hasher whose state is in it is
 * its owner; another hasher (or a large one-shot) taking over saves the
 * owner's bytes first, as hash-wasm does. `null`: no hasher's state is there.
 */
const owners = new WeakMap<KernelInstance, Blake3Hasher | null>();

/** Saves the current owner's state (if any) and makes `next` the owner. */
function takeState(k: KernelInstance, next: Blake3Hasher | null): void {
  const owner = owners.get(k);
  if (owner === next) return;
  if (owner) owner.saved = k.bytes.slice(k.exports.blake3StatePtr(), k.exports.blake3StatePtr() + k.exports.blake3StateSize());
  owners.set(k, next);
}

function checkBytes(name: string, bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new DeltaflareError('INVALID_ARGUMENT', `${name} must be a Uint8Array`);
}

/** BLAKE3 digest (32 bytes) of `bytes`. */
export function blake3(k: KernelInstance, bytes: Uint8Array): Uint8Array {
  checkBytes('bytes', bytes);
  const x = k.exports;
  const where = k.locate(bytes);
  if (where >= 0) {
    // In kernel memory: one call in place, on a state of its own.
    const out = k.scratch(OUT);
    x.blake3Hash(where, bytes.length, out);
    return k.bytes.slice(out, out + OUT);
  }
  if (bytes.length <= PIECE) {
    // One call on a state of its own: no owner to save.
    const out = (bytes.length + 15) & ~15;
    const ptr = k.scratch(out + OUT);
    k.bytes.set(bytes, ptr);
    x.blake3Hash(ptr, bytes.length, ptr + out);
    return k.bytes.slice(ptr + out, ptr + out + OUT);
  }
  takeState(k, null);
  x.blake3Reset();
  k.feed(bytes, (ptr, len) => x.blake3Update(ptr, len));
  const out = k.scratch(OUT);
  x.blake3Finalize(out);
  return k.bytes.slice(out, out + OUT);
}

/**
 * BLAKE3 digests of consecutive chunks of `bytes`: chunk i is
 * [ends[i-1], ends[i]) with ends[-1] = 0 (empty chunks allowed); returns
 * ends.length * 32 bytes. Lanes of the kernel take blocks from different
 * chunks, so thousands of small chunks hash as fast as one large input.
 */
export function blake3Chunks(k: KernelInstance, bytes: Uint8Array, ends: Uint32Array): Uint8Array {
  checkBytes('bytes', bytes);
  if (!(ends instanceof Uint32Array)) throw new DeltaflareError('INVALID_ARGUMENT', 'ends must be a Uint32Array');
  const count = ends.length;
  let prev = 0;
  for (let i = 0; i < count; i++) {
    if (ends[i] < prev) throw new DeltaflareError('INVALID_ARGUMENT', `ends[${i}] ${ends[i]} is below ends[${i - 1}] ${prev}`);
    prev = ends[i];
  }
  if (prev > bytes.length) {
    throw new DeltaflareError('INVALID_ARGUMENT', `ends[${count - 1}] ${prev} is above the input length ${bytes.length}`);
  }
  const digests = new Uint8Array(count * OUT);
  const x = k.exports;
  const where = k.locate(bytes); // >= 0: groups are hashed in place, only ends and digests use scratch
  let i = 0;
  while (i < count) {
    const start = i === 0 ? 0 : ends[i - 1];
    if (ends[i] - start > GROUP_BYTES) {
      digests.set(blake3(k, bytes.subarray(start, ends[i])), i * OUT);
      i++;
      continue;
    }
    let j = i + 1;
    while (j < count && j - i < GROUP_COUNT && ends[j] - start <= GROUP_BYTES) j++;
    const n = j - i;
    const len = ends[j - 1] - start;
    // Layout: bytes (unless in place) | ends (u32) | digests; the kernel grows memory for its work area after them.
    const endsOffset = where >= 0 ? 0 : (len + 15) & ~15;
    const outOffset = endsOffset + n * 4;
    const ptr = k.scratch(outOffset + n * OUT);
    const mem = k.bytes;
    if (where < 0) mem.set(bytes.subarray(start, start + len), ptr);
    const rel = new Uint32Array(mem.buffer, ptr + endsOffset, n);
    for (let c = 0; c < n; c++) rel[c] = ends[i + c] - start;
    x.blake3Chunks(where >= 0 ? where + start : ptr, ptr + endsOffset, n, ptr + outOffset);
    digests.set(k.bytes.subarray(ptr + outOffset, ptr + outOffset + n * OUT), i * OUT);
    i = j;
  }
  return digests;
}

/**
 * Incremental BLAKE3: `update()` with any number of pieces of any size, then
 * `digest()`. Several hashers may be alive and interleaved on one instance:
 * the one that runs restores its state into the module, saving the previous
 * owner's. `digest()` leaves the state as it was, so updates may continue.
 * @example new Blake3Hasher(instance).update(a).update(b).digest()
 */
export class Blake3Hasher {
  /** @internal This hasher's state while another owns the module; undefined before first use (fresh). */
  saved: Uint8Array | undefined;

  constructor(readonly k: KernelInstance) {}

  private own(): void {
    const { k } = this;
    if (owners.get(k) === this) return;
    takeState(k, this);
    if (this.saved) {
      k.bytes.set(this.saved, k.exports.blake3StatePtr());
      this.saved = undefined;
    } else {
      k.exports.blake3Reset();
    }
  }

  /** Adds `bytes` to the input. */
  update(bytes: Uint8Array): this {
    checkBytes('bytes', bytes);
    this.own();
    const x = this.k.exports;
    this.k.feed(bytes, (ptr, len) => x.blake3Update(ptr, len));
    return this;
  }

  /** The 32-byte digest of everything added so far. */
  digest(): Uint8Array {
    this.own();
    const out = this.k.scratch(OUT);
    this.k.exports.blake3Finalize(out);
    return this.k.bytes.slice(out, out + OUT);
  }
}
