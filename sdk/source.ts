// What the client reads the new file from: random access by offset, so the
// signature pass and the part uploads read only the ranges they need and
// memory stays bounded by their settings, never by the file size.

import { DeltaflareError } from '../core/base/errors.js';

/** SOURCE_CHANGED: the file a push reads (`name`) changed under it; `how` says what happened, when known. */
export function sourceChangedError(name: string | undefined, how?: string, cause?: unknown): DeltaflareError {
  const what = `${name ?? 'the source'} changed during the push${how ? ` (${how})` : ''}`;
  return new DeltaflareError('SOURCE_CHANGED', `${what}: nothing was committed; push it again`, { cause });
}

/**
 * Where pool workers can read a source's bytes themselves, so the calling
 * thread never holds a segment: a file path (Node's worker_threads read it
 * with positional reads) or a Blob (Web Workers slice it; a Blob is posted
 * as a handle, not copied).
 */
export type SourceLocation = { path: string } | { blob: Blob };

/** A file to sync, readable at any offset. */
export interface SyncSource {
  readonly size: number;
  /** File name, if known (browsers: File.name). */
  readonly name?: string;
  /** ms since the epoch, if known (browsers: File.lastModified). */
  readonly lastModified?: number;
  /** Reads [offset, offset + length) (clamped to the size) into a fresh buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fills `target` from `offset` (target.length bytes, all inside the source): lets readers reuse their buffers. */
  readInto?(offset: number, target: Uint8Array): Promise<void>;
  /**
   * [offset, offset + length) as a Blob, not read: a browser sends a part
   * whose body is made of such slices straight from the file, without its
   * bytes ever entering JavaScript (a Uint8Array body is copied on the
   * calling thread, ~3x slower per byte in Chromium).
   */
  slice?(offset: number, length: number): Blob;
  /** Where workers may read the same bytes (the signature pass then reads in its workers). */
  readonly location?: SourceLocation;
  /** Whether the source is no longer what it was when opened (written, truncated, grown or replaced); checked before the commit and after a failure. */
  changed?(): Promise<boolean>;
  close?(): Promise<void>;
}

/** A Blob or File as a source (browsers, and Node's Blob). */
export function blobSource(blob: Blob): SyncSource {
  const file = blob as Partial<File>;
  return {
    size: blob.size,
    name: file.name,
    lastModified: file.lastModified,
    location: { blob },
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, Math.min(blob.size, offset + length)).arrayBuffer());
    },
    slice: (offset, length) => blob.slice(offset, offset + length),
  };
}

/** Bytes already in memory as a source (tests, small inputs). */
export function bytesSource(bytes: Uint8Array, name?: string): SyncSource {
  return {
    size: bytes.length,
    name,
    async read(offset, length) {
      return bytes.slice(offset, Math.min(bytes.length, offset + length));
    },
  };
}
