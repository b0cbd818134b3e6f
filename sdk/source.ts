// What the client reads the new file from: random access by offset, so the
// signature pass and the part uploads read only the ranges they need and
// memory stays bounded by their settings, never by the file size.

/** A file to sync, readable at any offset. */
export interface SyncSource {
  readonly size: number;
  /** File name, if known (browsers: File.name). */
  readonly name?: string;
  /** ms since the epoch, if known (browsers: File.lastModified). */
  readonly lastModified?: number;
  /** Reads [offset, offset + length) (clamped to the size) into a fresh buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** A Blob or File as a source (browsers, and Node's Blob). */
export function blobSource(blob: Blob): SyncSource {
  const file = blob as Partial<File>;
  return {
    size: blob.size,
    name: file.name,
    lastModified: file.lastModified,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, Math.min(blob.size, offset + length)).arrayBuffer());
    },
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
