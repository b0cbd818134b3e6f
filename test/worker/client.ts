// A minimal protocol-v1 client for the endpoint tests, built from the
// sdk/protocol modules directly (the SDK's own client is written alongside):
// chunk with the kernels, send signature batches, confirm, plan, send the
// plan and parts, commit. Each step is separate so tests can interfere.
import { expect } from 'vitest';
import type { Kernels } from '../../core/kernels/api.js';
import { DEFAULT_CHUNKING, type ChunkingSpec } from '../../core/protocol/chunking.js';
import { deflateRaw } from '../../core/protocol/compress.js';
import { confirmMatches, type NewChunks } from '../../core/protocol/match.js';
import type { CommitRequest, CreateSessionResponse, FileInfo } from '../../core/protocol/messages.js';
import { partPayload, plan, type Plan } from '../../sdk/push/plan.js';
import { decodeMatches, encodePart, encodePlan, encodeSignatures } from '../../core/protocol/wire.js';
import { toHex } from '../../core/protocol/hex.js';

/** Sends a request to the endpoint: `app.request` or `fetch` on a real server. */
export type Send = (path: string, init?: SendInit) => Promise<Response>;
/** RequestInit whose body may be any Uint8Array (the codecs' output type). */
export type SendInit = Omit<RequestInit, 'body'> & { body?: BodyInit | Uint8Array | null };

/**
 * `init` with the Content-Type a client sends unless it names one: JSON for
 * text bodies (the endpoint refuses JSON without it), bytes for the rest.
 */
export function typed(init?: SendInit): RequestInit {
  if (init?.body === undefined || init.body === null) return init as RequestInit;
  const headers = new Headers(init.headers as HeadersInit | undefined);
  if (!headers.has('content-type')) headers.set('content-type', typeof init.body === 'string' ? 'application/json' : 'application/octet-stream');
  return { ...init, headers } as RequestInit;
}

/** A Send over a real server's base URL. */
export const overHttp =
  (url: string): Send =>
  (path, init) =>
    fetch(url + path, typed(init));

export interface StartOptions {
  key: string;
  /** undefined: the key itself; null: none. */
  basis?: string | null;
  chunking?: ChunkingSpec;
  inPlace?: boolean;
  strongBytes?: number;
  /** Signatures per match request (default 1000). */
  batch?: number;
  /** Sent with the session (CreateSessionRequest.metadata). */
  metadata?: unknown;
  /** Deflate part payloads when smaller. */
  deflate?: boolean;
}

/** One sync in progress: everything needed to send the rest. */
export interface Sync {
  session: CreateSessionResponse;
  data: Uint8Array;
  chunks: NewChunks & { crcs: Uint32Array };
  plan: Plan;
  planBody: Uint8Array;
  partBodies: Uint8Array[];
  commit: CommitRequest;
  /** Literal bytes the parts carry (uncompressed). */
  literalBytes: number;
}

/** Chunks with the kernels: FastCDC-2020 (with BLAKE3) or fixed blocks. */
export function describe(k: Kernels, data: Uint8Array, spec: ChunkingSpec): NewChunks & { crcs: Uint32Array } {
  if (spec.kind === 'cdc') {
    const cs = k.chunk(data, { min: spec.min, avg: spec.avg, max: spec.max, level: spec.level, blake3: true });
    const hashes = new Uint8Array(cs.length * 32);
    for (const [i, c] of cs.entries()) hashes.set(c.blake3!, i * 32);
    return { lengths: Uint32Array.from(cs, (c) => c.length), crcs: Uint32Array.from(cs, (c) => c.crc32 >>> 0), hashes };
  }
  const n = Math.ceil(data.length / spec.block);
  const lengths = Uint32Array.from({ length: n }, (_, i) => Math.min(spec.block, data.length - i * spec.block));
  const ends = Uint32Array.from({ length: n }, (_, i) => Math.min(data.length, (i + 1) * spec.block));
  const crcs = Uint32Array.from({ length: n }, (_, i) => k.crc32(data.subarray(i * spec.block, ends[i])) >>> 0);
  return { lengths, crcs, hashes: k.blake3Chunks(data, ends) };
}

/** JSON of a response, failing the test with the body when the status differs. */
export async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Expects an error answer with this status and code; returns its message. */
export async function expectError(res: Response | Promise<Response>, status: number, code: string): Promise<string> {
  const r = await res;
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect({ status: r.status, code: body.error.code }, body.error.message).toEqual({ status, code });
  return body.error.message;
}

/** Starts a session and sends every signature batch; returns the plan and bodies still to send. */
export async function start(send: Send, k: Kernels, data: Uint8Array, o: StartOptions): Promise<Sync> {
  const chunking = o.chunking ?? DEFAULT_CHUNKING;
  const req: Record<string, unknown> = { key: o.key, size: data.length, chunking, inPlace: o.inPlace ?? false, strongBytes: o.strongBytes ?? 8 };
  if (o.basis !== undefined) req.basis = o.basis;
  if (o.metadata !== undefined) req.metadata = o.metadata;
  const session = await json<CreateSessionResponse>(await send('/v1/sessions', { method: 'POST', body: JSON.stringify(req) }), 201);
  const chunks = describe(k, data, chunking);
  const n = chunks.lengths.length;
  const oldOffsets = new Float64Array(n).fill(-1);
  const batch = o.batch ?? 1000;
  for (let first = 0; first < n; first += batch) {
    const end = Math.min(n, first + batch);
    const body = encodeSignatures({ firstIndex: first, crcs: chunks.crcs.subarray(first, end), lengths: chunks.lengths.subarray(first, end) });
    const res = await send(`/v1/sessions/${session.id}/match`, { method: 'POST', body });
    expect(res.status).toBe(200);
    const m = decodeMatches(new Uint8Array(await res.arrayBuffer()));
    confirmMatches(m, chunks, oldOffsets, session.basis?.size ?? 0);
  }
  const p = plan(chunks, oldOffsets, { partSize: session.partSize, inPlace: o.inPlace });
  const partBodies: Uint8Array[] = [];
  for (const pp of p.parts) {
    const raw = partPayload(data, pp);
    const z = o.deflate ? await deflateRaw(raw) : raw;
    const deflated = z.length < raw.length;
    partBodies.push(encodePart({ ...pp, deflated, payload: deflated ? z : raw }, { crc32: (b) => k.crc32(b) }));
  }
  return {
    session,
    data,
    chunks,
    plan: p,
    planBody: encodePlan(p),
    partBodies,
    commit: { root: toHex(k.blake3(chunks.hashes)), size: data.length, parts: p.parts.length, baseVersion: session.basis?.version ?? null },
    literalBytes: p.parts.reduce((s, pp) => s + pp.literalBytes, 0),
  };
}

export const sendPlan = (send: Send, s: Sync) => send(`/v1/sessions/${s.session.id}/plan`, { method: 'PUT', body: s.planBody });
export const sendPart = (send: Send, s: Sync, n: number, body = s.partBodies[n]) => send(`/v1/sessions/${s.session.id}/parts/${n}`, { method: 'PUT', body });
export const sendCommit = (send: Send, s: Sync, over: Partial<CommitRequest> = {}) =>
  send(`/v1/sessions/${s.session.id}/commit`, { method: 'POST', body: JSON.stringify({ ...s.commit, ...over }) });

/** Sends the plan and every part (in `order`, default ascending), expecting 204s. */
export async function sendAll(send: Send, s: Sync, order?: number[]): Promise<void> {
  expect((await sendPlan(send, s)).status).toBe(204);
  for (const n of order ?? s.partBodies.map((_, i) => i)) {
    const res = await sendPart(send, s, n);
    expect(res.status, await res.clone().text()).toBe(204);
  }
}

/** A whole push: start, plan, parts, commit. */
export async function push(send: Send, k: Kernels, data: Uint8Array, o: StartOptions): Promise<{ sync: Sync; info: FileInfo }> {
  const sync = await start(send, k, data, o);
  await sendAll(send, sync);
  const info = await json<FileInfo>(await sendCommit(send, sync));
  return { sync, info };
}

/** The bytes of a file as the endpoint serves them. */
export async function download(send: Send, key: string, headers?: Record<string, string>): Promise<{ status: number; bytes: Uint8Array; res: Response }> {
  const res = await send(`/v1/files/${key}`, { headers });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()), res };
}
