// `POST /v1/sessions/:id/commit`: the checks of docs/protocol.md in order
// (complete, tiled, version, root), then the rebuild and one atomic publish
// of the new version with its manifest. Nothing changes on a failed check.
// The root is computed from digests the server already holds: stored ones
// for copied chunks, the ones computed as parts landed for literal chunks;
// copied bytes are never read or hashed again.
import { type Hooks, notify } from './hooks.js';
import { ChunkSource, chunkSources, fillChunkDigests } from '../core/protocol/chunk-sources.js';
import type { ChunkingSpec } from '../core/protocol/chunking.js';
import type { Manifest } from '../core/protocol/manifest.js';
import type { FileInfo } from '../core/protocol/messages.js';
import { decodePlan, type LiteralOp } from '../core/protocol/wire.js';
import { jsonInt as checkInt, jsonString as checkString } from './body.js';
import type { Kernels } from '../core/kernels/api.js';
import type { ManifestCache } from './manifests.js';
import type { CopyJobs } from './rebuild.js';
import type { Sessions } from './sessions.js';
import type { Signatures } from './signatures.js';
import type { Store, VersionInfo } from './store/store.js';
import { ApiError } from './errors.js';
import { toHex } from '../core/protocol/hex.js';
import { decodePartDigests } from './parts.js';
import { rebuildInPlace, runCopies, runDups } from './rebuild.js';
import { partBlobName, type Session } from './sessions.js';

/** What a commit works with: the endpoint's state (endpoint.ts passes itself). */
export interface CommitContext {
  store: Store;
  kernels: Kernels;
  sessions: Sessions;
  signatures: Signatures;
  manifests: ManifestCache;
  copies: CopyJobs;
  log: (e: unknown) => void;
  hooks: Hooks;
  /** Drops in-process state of a session. */
  forget(id: string): void;
}

/** A commit request, checked. */
interface CommitBody {
  root: string;
  size: number;
  parts: number;
  baseVersion: string | null;
}

function parseCommit(body: Record<string, unknown>): CommitBody {
  const root = checkString(body.root, 'root');
  if (!/^[0-9a-f]{64}$/.test(root)) throw new ApiError('INVALID_ARGUMENT', 'root must be 64 lowercase hex digits');
  const size = checkInt(body.size, 'size', 0, Number.MAX_SAFE_INTEGER);
  const parts = checkInt(body.parts, 'parts', 0, 0xffffffff);
  const baseVersion = body.baseVersion === null ? null : checkString(body.baseVersion, 'baseVersion');
  return { root, size, parts, baseVersion };
}

/** Runs the commit of session `id`: the checks of docs/protocol.md "Commit", in order, then the rebuild; answers the new version. */
export async function commitSession(ep: CommitContext, id: string, json: Record<string, unknown>): Promise<FileInfo> {
  const req = parseCommit(json);
  return ep.sessions.locked(id, async () => {
    const s = await ep.sessions.load(id);
    if (s.state.committed) {
      // A retried commit (the answer was lost): the same request gets the same answer.
      if (s.state.committed.root === req.root && s.size === req.size) return s.state.committed;
      throw new ApiError('VERSION_CONFLICT', `session ${id} was already committed with root ${s.state.committed.root}`);
    }
    if (req.size !== s.size) throw new ApiError('INVALID_ARGUMENT', `size ${req.size} is not the session's size ${s.size}`);
    const basis = s.state.basis;
    if (req.baseVersion !== (basis?.version ?? null)) {
      throw new ApiError('VERSION_CONFLICT', `baseVersion ${req.baseVersion} is not the session's basis version ${basis?.version ?? null}`);
    }
    const table = await ep.signatures.table(s);
    const landed = await checkComplete(ep, s, req, table);
    // Tiled: copies, literals and dups cover [0, size) on chunk boundaries.
    const plan = decodePlan((await ep.store.getSessionBlob(id, 'plan'))!);
    const old = basis ? (await ep.manifests.get(basis.key, basis.version, s.chunking as ChunkingSpec)).manifest : null;
    const { literals, literalHashes } = await landedLiterals(ep, id, landed, table);
    const sources = chunkSources(table.lengths, old?.lengths ?? new Uint32Array(0), plan, literals);
    await checkKeyUnmoved(ep, s);
    // The root, from stored and landed digests.
    const digests = fillChunkDigests(sources, old?.hashes ?? new Uint8Array(0), literalHashes);
    const root = toHex(ep.kernels.blake3(digests));
    if (root !== req.root) {
      const copied = sources.kind.reduce((n, k) => n + (k === ChunkSource.copy ? 1 : 0), 0);
      // The rebuilt root is not echoed: it is a digest of stored bytes the caller may not be allowed to read.
      throw new ApiError(
        'ROOT_MISMATCH',
        `the rebuilt manifest root is not the client's ${req.root} (${copied} of ${table.count} chunks copied): retry with strongBytes 32`,
      );
    }
    const manifest: Manifest = { chunking: s.chunking as ChunkingSpec, size: s.size, lengths: table.lengths, crcs: table.crcs, hashes: digests };
    const info = await rebuild(ep, s, plan, literals, manifest, root);
    if (s.state.keyVersion) ep.manifests.forget(s.key, s.state.keyVersion);
    const metadata = s.state.metadata;
    const result: FileInfo = {
      key: s.key,
      version: info.id,
      size: info.size,
      root,
      updatedAt: new Date(info.time).toISOString(),
      ...(metadata ? { metadata } : {}),
    };
    await finish(ep, s, result);
    await notify(ep.hooks.onCommit, { key: s.key, version: info.id, size: info.size, root, ...(metadata ? { metadata } : {}) }, ep.log);
    return result;
  });
}

type Table = Awaited<ReturnType<Signatures['table']>>;

/** Complete: signatures of every byte, the plan, parts 0..parts-1 and no others (INCOMPLETE naming what is missing). Answers the landed parts. */
async function checkComplete(ep: CommitContext, s: Session, req: CommitBody, table: Table): Promise<Set<number>> {
  const missing: string[] = [];
  if (table.offsets[table.count] !== s.size || s.signatures.length > 1) {
    missing.push(`signatures from chunk ${table.count} (bytes ${table.offsets[table.count]}..${s.size})`);
  }
  if (s.state.plan === undefined) missing.push('the plan');
  const landed = new Set(await ep.sessions.landedParts(s.id));
  const absent: number[] = [];
  for (let n = 0; n < req.parts && absent.length <= 20; n++) if (!landed.has(n)) absent.push(n);
  if (absent.length > 0) missing.push(`part${absent.length > 1 ? 's' : ''} ${absent.slice(0, 20).join(', ')}${absent.length > 20 ? ', ...' : ''}`);
  if (missing.length > 0) throw new ApiError('INCOMPLETE', `commit before everything landed: missing ${missing.join('; ')}`);
  const beyond = [...landed].filter((n) => n >= req.parts);
  if (beyond.length > 0) throw new ApiError('INVALID_PLAN', `part ${beyond[0]} landed but the commit says there are ${req.parts} parts`);
  return landed;
}

/** The landed parts' literal ops (merged where they touch) and their chunks' digests, by chunk index. */
async function landedLiterals(ep: CommitContext, id: string, landed: Set<number>, table: Table): Promise<{ literals: LiteralOp[]; literalHashes: Uint8Array }> {
  const literalHashes = new Uint8Array(table.count * 32);
  const literals: LiteralOp[] = [];
  for (const n of landed) {
    const d = decodePartDigests((await ep.store.getSessionBlob(id, partBlobName(n)))!);
    for (let c = 0; c < d.chunks.length; c++) {
      const i = d.chunks[c];
      literalHashes.set(d.hashes.subarray(c * 32, c * 32 + 32), i * 32);
      const last = literals[literals.length - 1];
      if (last && last.newOffset + last.length === table.offsets[i]) last.length += table.lengths[i];
      else literals.push({ newOffset: table.offsets[i], length: table.lengths[i] });
    }
  }
  return { literals, literalHashes };
}

/** The key is still at the version the session began at (VERSION_CONFLICT otherwise). */
async function checkKeyUnmoved(ep: CommitContext, s: Session): Promise<void> {
  const head = await ep.store.head(s.key);
  if ((head?.id ?? null) !== s.state.keyVersion) {
    throw new ApiError(
      'VERSION_CONFLICT',
      `key ${JSON.stringify(s.key)} is at version ${head?.id ?? '(none)'}, the session began at ${s.state.keyVersion ?? '(none)'}`,
    );
  }
}

/** Rebuilds the version (in the basis' space, or in staging from copies, dups and the landed parts) and publishes it. */
async function rebuild(
  ep: CommitContext,
  s: Session,
  plan: ReturnType<typeof decodePlan>,
  literals: LiteralOp[],
  manifest: Manifest,
  root: string,
): Promise<VersionInfo> {
  const basis = s.state.basis;
  const metadata = s.state.metadata;
  const staging = await ep.store.staging(s.stagingId);
  if (s.inPlace) {
    const info = await rebuildInPlace(ep.store, s.key, basis!, plan, literals, staging, { expectedVersion: basis!.version, manifest, root, metadata });
    await staging.discard().catch((e) => ep.log(e));
    return info;
  }
  if (basis && plan.copies.length > 0 && !(await ep.copies.finished(s.id))) await runCopies(staging, basis, plan.copies);
  await runDups(staging, plan.dups);
  return ep.store.commit(s.key, s.stagingId, { expectedVersion: s.state.keyVersion, manifest, root, metadata });
}

/** Replaces the session by a small record that answers a retried commit; blobs (plan, signatures, digests) go. */
async function finish(ep: CommitContext, s: Session, result: FileInfo): Promise<void> {
  ep.forget(s.id);
  try {
    await ep.store.deleteSession(s.id);
    await ep.store.putSession({ ...s, signatures: [], expires: ep.sessions.expiry(s.created), state: { ...s.state, committed: result } });
  } catch (e) {
    ep.log(e); // the version is published; a lost tombstone only makes a retried commit answer NOT_FOUND
  }
}
