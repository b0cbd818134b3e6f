// The file routes: read (whole, one Range with 206/416, or several as
// multipart/byteranges; Range parsing in ranges.ts), head, delete and list
// stored versions. Headers of a file: Content-Length, ETag (the version
// id, quoted), Last-Modified, X-Deltaflare-Version, X-Deltaflare-Root (the
// manifest root, when known), X-Deltaflare-Metadata (the push's metadata,
// when it sent any) and Accept-Ranges.
import type { FileInfo, FileList } from '../core/protocol/messages.js';
import { METADATA_HEADER, encodeMetadataHeader } from '../core/protocol/metadata.js';
import { ApiError } from './errors.js';
import { deflateWhenItPays, multipartResponse, parseRange, parseRanges, readClusters } from './ranges.js';
import { StoreError, type Store, type VersionInfo, type VersionReader } from './store/store.js';

/** Headers describing a version. */
export function fileHeaders(info: VersionInfo): Record<string, string> {
  const h: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Content-Length': String(info.size),
    ETag: `"${info.id}"`,
    'Last-Modified': new Date(info.time).toUTCString(),
    'X-Deltaflare-Version': info.id,
  };
  if (info.root) h['X-Deltaflare-Root'] = info.root;
  if (info.metadata) h[METADATA_HEADER] = encodeMetadataHeader(info.metadata);
  return h;
}

/** A version as listed. `root` is "" for a file placed by hand (no commit recorded one). */
export function fileInfo(key: string, v: VersionInfo): FileInfo {
  return { key, version: v.id, size: v.size, root: v.root ?? '', updatedAt: new Date(v.time).toISOString(), ...(v.metadata ? { metadata: v.metadata } : {}) };
}

/** The key's current version, readable: NOT_FOUND when there is none, INCOMPLETE while an in-place push is unfinished. */
export async function currentVersion(store: Store, key: string): Promise<VersionInfo> {
  const info = await store.head(key);
  if (!info) throw new ApiError('NOT_FOUND', `no file ${JSON.stringify(key)}`);
  if (info.incomplete)
    throw new ApiError('INCOMPLETE', `file ${JSON.stringify(key)} is incomplete: an in-place push stopped half-way; push it whole (basis null)`);
  return info;
}

/**
 * The key's current version opened for several reads with one look-up
 * (Store.reader where the store has one: on R2 one head, not one per read),
 * with currentVersion's answers.
 */
export async function openCurrent(store: Store, key: string): Promise<VersionReader> {
  if (!store.reader) {
    const info = await currentVersion(store, key);
    return { info, read: async (offset, length) => (await store.read(key, { version: info.id, offset, length })).body };
  }
  try {
    return await store.reader(key);
  } catch (e) {
    if (e instanceof StoreError && (e.code === 'NOT_FOUND' || e.code === 'INCOMPLETE')) await currentVersion(store, key); // its message
    throw e;
  }
}

/** `GET|HEAD /v1/files/:key`; a ranged answer deflated when the client takes it (`deflate`) and it pays (ranges.ts). */
export async function getFile(store: Store, key: string, method: string, range: string | null | undefined, deflate = false): Promise<Response> {
  const res = await readFile(store, key, method, range);
  return deflate && res.status === 206 ? deflateWhenItPays(res) : res;
}

async function readFile(store: Store, key: string, method: string, range: string | null | undefined): Promise<Response> {
  // A commit between head and read makes the read CONFLICT: look again (3 tries; commits of one key take milliseconds).
  for (let attempt = 0; ; attempt++) {
    const version = await openCurrent(store, key);
    const { info } = version;
    const headers = fileHeaders(info);
    if (method === 'HEAD') return new Response(null, { status: 200, headers });
    const several = parseRanges(range, info.size);
    if (several && several.length > 1) return multipartResponse(version, readClusters(several, range ?? ''), headers);
    const r = several ? several[0] : parseRange(range, info.size);
    try {
      const body = r ? await version.read(r.start, r.end - r.start + 1) : await version.read(0, info.size);
      if (!r) return new Response(body, { status: 200, headers });
      headers['Content-Length'] = String(r.end - r.start + 1);
      headers['Content-Range'] = `bytes ${r.start}-${r.end}/${info.size}`;
      return new Response(body, { status: 206, headers });
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'CONFLICT') || attempt === 2) throw e;
    }
  }
}

/** `GET /v1/files?prefix=&cursor=&limit=`. */
export async function listFiles(store: Store, query: (name: string) => string | undefined): Promise<FileList> {
  const limitText = query('limit') ?? '1000';
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 1000) throw new ApiError('INVALID_ARGUMENT', `limit ${JSON.stringify(limitText)} is outside 1..1000`);
  const page = await store.list(query('prefix') ?? '', limit, query('cursor') || undefined);
  const out: FileList = { files: page.entries.map((e) => fileInfo(e.key, e.version)) };
  if (page.cursor !== undefined) out.cursor = page.cursor;
  return out;
}
