// The first step of a pull: the version's short manifest (digest prefixes),
// its id, root and metadata, refused past maxChunks before it is decoded.
import { DeltaflareError } from '../../core/base/errors.js';
import { DEFAULT_LIMITS } from '../../core/base/limits.js';
import { decodeShortManifest, type ShortManifest, shortManifestBound } from '../../core/protocol/manifest.js';
import { decodeMetadataHeader, METADATA_HEADER, type Metadata } from '../../core/protocol/metadata.js';
import { type Http, notDeltaflare } from '../http.js';
import type { PullOptions } from './options.js';

/** What the manifest request answered. */
export interface Version {
  m: ShortManifest;
  version: string;
  root: string;
  metadata: Metadata | undefined;
}

/** GET /v1/manifests/:key with digests of `digestBytes`; a URL that is not deltaflare's, or another version than asked, is named. */
export async function fetchVersion(http: Http, options: PullOptions, digestBytes: number): Promise<Version> {
  const path = `/v1/manifests/${encodeURIComponent(options.key)}`;
  const maxChunks = options.maxChunks ?? DEFAULT_LIMITS.maxManifestChunks;
  const bound = shortManifestBound(maxChunks, digestBytes);
  const answer = await http.get(`${path}?digest=${digestBytes}`, {}, bound).catch((e: DeltaflareError) => {
    if (e.code !== 'MALFORMED') throw e;
    throw new DeltaflareError('MALFORMED', `${e.message.replace(/^deltaflare: /, '')}: a manifest of at most ${maxChunks} chunks (maxChunks) takes ${bound}`);
  });
  let m: ShortManifest;
  try {
    m = decodeShortManifest(answer.bytes, { digestBytes, maxChunks });
  } catch (e) {
    const what = (e as Error).message.replace(/^deltaflare: /, '');
    throw /magic|shorter than the/.test(what) ? notDeltaflare(options.endpoint, `GET ${path} answered no manifest (${what})`) : e;
  }
  const version = answer.headers.get('x-deltaflare-version') ?? '';
  if (options.version !== undefined && options.version !== version) {
    throw new DeltaflareError('VERSION_CONFLICT', `${options.key} is at version ${version}, not the version ${options.version} asked for: nothing was changed`);
  }
  return { m, version, root: answer.headers.get('x-deltaflare-root') ?? '', metadata: decodeMetadataHeader(answer.headers.get(METADATA_HEADER)) };
}
