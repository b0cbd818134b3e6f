// Hostile-client cases, shared by the Node suite (test/worker/hostile.test.ts:
// app.request over an fs store) and the workerd one (test/worker/cloudflare/hostile.test.ts:
// SELF.fetch into the Worker, its Durable Objects and R2). Web APIs only.
//
// Every case stores a version of its key, opens a session for an edited
// version, records what is stored (checkpoint), sends hostile requests that
// must each answer a 4xx JSON error with the given code, then checks that
// nothing changed (the key's bytes and version, the session's status, and the
// runtime's own view of its storage: files on Node, R2 objects on Workers),
// and finishes the session to show the endpoint still serves it.
import { expect } from 'vitest';
import type { Kernels } from '../../core/kernels/api.js';
import { DEFAULT_CHUNKING } from '../../core/protocol/chunking.js';
import { encodePart, encodePlan, encodeSignatures } from '../../core/protocol/wire.js';
import { download, expectError, json, push, sendAll, sendCommit, sendPart, sendPlan, start, type Send, type SendInit, type Sync } from './client.js';
import { randomBytes } from '../support/bytes.js';
import { HOSTILE_LIMITS as L } from './hostile-limits.js';

export { HOSTILE_LIMITS } from './hostile-limits.js';

/** What a suite provides: how to send, the kernels, and its own view of the storage (compared with toEqual). */
export interface HostileTarget {
  send: Send;
  k: Kernels;
  storage(): Promise<unknown>;
}

/** What a case gets. */
export interface HostileContext extends HostileTarget {
  /** Records the key's version and bytes, the sessions' status and the storage view. */
  checkpoint(key: string, sessions?: string[]): Promise<void>;
  /** Fails unless all of it is as recorded. */
  unchanged(): Promise<void>;
  /** Expects a 4xx JSON error `{error:{code,message}}` with this status and code. */
  refused(path: string, init: SendInit | undefined, status: number, code: string): Promise<string>;
}

export interface HostileCase {
  name: string;
  run(t: HostileContext): Promise<void>;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A context over a target: checkpoint and unchanged compare everything a refused request must not touch. */
export function hostileContext(target: HostileTarget): HostileContext {
  let saved: { key: string; sessions: string[]; view: Awaited<ReturnType<typeof observe>> } | undefined;
  async function observe(key: string, sessions: string[]) {
    const file = await download(target.send, key);
    const status = await Promise.all(sessions.map(async (id) => json(await target.send(`/v1/sessions/${id}`))));
    return { status: file.status, version: file.res.headers.get('x-deltaflare-version'), bytes: file.bytes, sessions: status, storage: await target.storage() };
  }
  return {
    ...target,
    async checkpoint(key, sessions = []) {
      saved = { key, sessions, view: await observe(key, sessions) };
      expect(saved.view.status).toBe(200);
    },
    async unchanged() {
      const now = await observe(saved!.key, saved!.sessions);
      expect(now.version).toBe(saved!.view.version);
      expect(same(now.bytes, saved!.view.bytes), 'stored bytes changed').toBe(true);
      expect(now.sessions).toEqual(saved!.view.sessions);
      expect(now.storage).toEqual(saved!.view.storage);
    },
    async refused(path, init, status, code) {
      const res = await target.send(path, init);
      expect(res.status, `${init?.method ?? 'GET'} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers.get('content-type')).toContain('application/json');
      return expectError(res, status, code);
    },
  };
}

/** A stored version of `key` and a session for an edited one: three 20,000-byte edits make ~108 KiB of literals, two parts of 64 KiB. */
async function setup(t: HostileContext, key: string, seed: number): Promise<{ v1: Uint8Array; s: Sync }> {
  const v1 = randomBytes(300 * 1024, seed);
  await push(t.send, t.k, v1, { key, batch: 20 });
  const v2 = v1.slice();
  for (const [i, at] of [40_000, 150_000, 260_000].entries()) v2.set(randomBytes(20_000, seed * 10 + i), at);
  const s = await start(t.send, t.k, v2, { key, batch: 20 });
  expect(s.partBodies.length).toBe(2);
  return { v1, s };
}

/** Sends what is left of the session, commits it and reads the new version back. */
async function finish(t: HostileContext, s: Sync, key: string): Promise<void> {
  await sendAll(t.send, s);
  const info = await json<{ version: string }>(await sendCommit(t.send, s));
  const got = await download(t.send, key);
  expect(got.res.headers.get('x-deltaflare-version')).toBe(info.version);
  expect(same(got.bytes, s.data), 'new version differs').toBe(true);
}

const post = (body: BodyInit | Uint8Array): SendInit => ({ method: 'POST', body });
const put = (body: BodyInit | Uint8Array): SendInit => ({ method: 'PUT', body });
const json1 = (v: unknown) => post(JSON.stringify(v));
/** A copy of `body` with little-endian u32 `value` at `at`. */
function patch32(body: Uint8Array, at: number, value: number): Uint8Array {
  const out = body.slice();
  new DataView(out.buffer).setUint32(at, value, true);
  return out;
}
/** A copy of `body` with byte `at` set. */
function patch8(body: Uint8Array, at: number, value: number): Uint8Array {
  const out = body.slice();
  out[at] = value;
  return out;
}
/** A part body with its trailing CRC32 recomputed, so the decoder reaches the field under test. */
const recrc = (k: Kernels, body: Uint8Array) => patch32(body, body.length - 4, k.crc32(body.subarray(0, body.length - 4)) >>> 0);

const cdc = DEFAULT_CHUNKING;

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'should refuse bad session requests and hostile keys, creating no session',
    async run(t) {
      const key = 'hostile/keys.bin';
      await setup(t, key, 11);
      await t.checkpoint(key);
      const bad: Array<[unknown, number, string]> = [
        [{ key: '../etc/passwd', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a/../../b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a/%2e%2e/b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a/%252e%252e/b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: '%c0%ae%c0%ae/b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: '/abs', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\\..\\b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\u0000b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\u0007b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\u007fb', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\nb', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a\ud800b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'x'.repeat(1025), size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: `a/${'y'.repeat(256)}`, size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: '', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'a//b', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: '.deltaflare/sessions/x', size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key: 5, size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ size: 1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: cdc, basis: '../x' }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: cdc, basis: 'a\u0000' }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: cdc, basis: 'hostile/missing' }, 404, 'NOT_FOUND'],
        [{ key, size: -1, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1.5, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: '1', chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 2 ** 53, chunking: cdc }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: L.maxFileSize + 1, chunking: cdc }, 413, 'TOO_LARGE'],
        [{ key, size: 1, chunking: { kind: 'cdc', min: 1, avg: 2, max: 3, level: 1 } }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: { kind: 'fixed', block: 1 << 30 } }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: { kind: 'zip' } }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: null }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: cdc, strongBytes: 4 }, 400, 'INVALID_ARGUMENT'],
        [{ key, size: 1, chunking: cdc, inPlace: 'yes' }, 400, 'INVALID_ARGUMENT'],
        [{ key: 'hostile/new.bin', size: 1, chunking: cdc, inPlace: true }, 400, 'INVALID_ARGUMENT'],
        [[1, 2], 400, 'MALFORMED'],
        [null, 400, 'MALFORMED'],
        ['key', 400, 'MALFORMED'],
      ];
      for (const [body, status, code] of bad) await t.refused('/v1/sessions', json1(body), status, code);
      await t.refused('/v1/sessions', post('{"key":'), 400, 'MALFORMED');
      await t.refused(
        '/v1/sessions',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
        400,
        'MALFORMED',
      );
      await t.refused('/v1/sessions', post(''), 400, 'MALFORMED');
      await t.refused('/v1/sessions', post(`{"key":"${'x'.repeat(100_000)}"}`), 413, 'TOO_LARGE');
      // JSON only as application/json: a page on another site may POST text/plain without asking first.
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
        await t.refused(
          '/v1/sessions',
          { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify({ key, size: 1, chunking: cdc }) },
          415,
          'INVALID_ARGUMENT',
        );
      }
      await t.unchanged();
    },
  },
  {
    name: 'should refuse traversal, control characters and metadata keys on the file routes',
    async run(t) {
      const key = 'hostile/files.bin';
      await setup(t, key, 12);
      await t.checkpoint(key);
      for (const path of [
        '%2e%2e%2Fx',
        '..%2Fx',
        'a/..%2F..%2Fx',
        'a/%252e%252e/x',
        '%2Fabs',
        '.deltaflare/keys',
        'a//b',
        'a%00b',
        'a%07b',
        'a%7Fb',
        'a%5C..%5Cb',
        'a/%E0%A4%A',
        `${'x'.repeat(1025)}`,
      ]) {
        await t.refused(`/v1/files/${path}`, undefined, 400, 'INVALID_ARGUMENT');
        const head = await t.send(`/v1/files/${path}`, { method: 'HEAD' }); // no body: the code is in a header
        expect([head.status, head.headers.get('x-deltaflare-error')]).toEqual([400, 'INVALID_ARGUMENT']);
        await t.refused(`/v1/files/${path}`, { method: 'DELETE' }, 400, 'INVALID_ARGUMENT');
      }
      await t.refused('/v1/files?prefix=../', undefined, 400, 'INVALID_ARGUMENT');
      await t.refused('/v1/files?prefix=%00', undefined, 400, 'INVALID_ARGUMENT');
      for (const path of ['hostile/nothing', '%zz', 'a%0Ab']) {
        // Valid keys that do not exist, malformed escapes (kept as they are), and a newline (no route matches): 404.
        await t.refused(`/v1/files/${path}`, undefined, 404, 'NOT_FOUND');
        await t.refused(`/v1/files/${path}`, { method: 'DELETE' }, 404, 'NOT_FOUND');
      }
      await t.refused(`/v1/files/${key}`, { method: 'DELETE', headers: { 'if-match': '"v_0000"' } }, 409, 'VERSION_CONFLICT');
      await t.refused(`/v1/files/${key}`, { headers: { range: 'bytes=999999999-' } }, 416, 'INVALID_ARGUMENT');
      await t.refused('/v2/info', undefined, 404, 'NOT_FOUND');
      await t.unchanged();
    },
  },
  {
    name: 'should refuse malformed, truncated, oversized and conflicting signature batches, leaving the session unchanged',
    async run(t) {
      const key = 'hostile/match.bin';
      const { s } = await setup(t, key, 13);
      const id = s.session.id;
      await t.checkpoint(key, [id]);
      const match = `/v1/sessions/${id}/match`;
      const good = encodeSignatures({ firstIndex: 0, crcs: s.chunks.crcs.subarray(0, 3), lengths: s.chunks.lengths.subarray(0, 3) });
      await t.refused(match, post(new Uint8Array([1, 2, 3])), 400, 'MALFORMED');
      await t.refused(match, post(new Uint8Array(0)), 400, 'MALFORMED');
      await t.refused(match, post(patch8(good, 0, 0x45)), 400, 'MALFORMED'); // magic "EF"
      await t.refused(match, post(patch8(good, 2, 2)), 400, 'UNSUPPORTED_VERSION');
      await t.refused(match, post(patch8(good, 2, 0)), 400, 'UNSUPPORTED_VERSION');
      await t.refused(match, post(patch8(good, 3, 3)), 400, 'MALFORMED'); // a plan's type byte
      await t.refused(match, post(patch8(good, 4, 7)), 400, 'MALFORMED'); // length coding
      await t.refused(match, post(patch8(good, 6, 1)), 400, 'MALFORMED'); // reserved
      await t.refused(match, post(good.subarray(0, good.length - 1)), 400, 'MALFORMED');
      await t.refused(match, post(good.subarray(0, 23)), 400, 'MALFORMED');
      await t.refused(match, post(patch32(good, 12, 4)), 400, 'MALFORMED'); // count above the entries sent
      await t.refused(match, post(patch32(good, 12, 2)), 400, 'MALFORMED'); // count below them
      await t.refused(match, post(patch32(good, 12, 0)), 400, 'MALFORMED');
      await t.refused(match, post(patch32(good, 12, 0xffffffff)), 400, 'MALFORMED');
      await t.refused(match, post(patch32(good, 8, 0xfffffffe)), 400, 'MALFORMED'); // firstIndex + count past 2^32
      await t.refused(match, post(new Uint8Array(24 + 8 * L.maxSignaturesPerBatch + 1)), 413, 'TOO_LARGE');
      await t.refused(match, post(encodePlan({ size: s.data.length, inPlace: false, copies: [], dups: [] })), 400, 'MALFORMED');
      // Chunks overlapping recorded ones with other values, and chunks past the file's end.
      await t.refused(
        match,
        post(encodeSignatures({ firstIndex: 5, crcs: new Uint32Array(10), lengths: new Uint32Array(10).fill(8192) })),
        409,
        'PART_CONFLICT',
      );
      const n = s.chunks.lengths.length;
      await t.refused(
        match,
        post(encodeSignatures({ firstIndex: n, crcs: new Uint32Array(3), lengths: new Uint32Array(3).fill(4096) })),
        400,
        'INVALID_ARGUMENT',
      );
      await t.refused(
        match,
        post(encodeSignatures({ firstIndex: n + 10, crcs: new Uint32Array(3), lengths: new Uint32Array(3).fill(4096) })),
        400,
        'INVALID_ARGUMENT',
      );
      await t.unchanged();
      await finish(t, s, key);
    },
  },
  {
    name: 'should refuse malformed plans, copies outside the basis and overlapping or out-of-file destinations, then a second plan',
    async run(t) {
      const key = 'hostile/plan.bin';
      const { v1, s } = await setup(t, key, 14);
      const id = s.session.id;
      await t.checkpoint(key, [id]);
      const plan = `/v1/sessions/${id}/plan`;
      const size = s.data.length;
      const body = (copies: Array<[number, number, number]>, over: { size?: number; inPlace?: boolean; dups?: Array<[number, number, number]> } = {}) =>
        encodePlan({
          size: over.size ?? size,
          inPlace: over.inPlace ?? false,
          copies: copies.map(([oldOffset, newOffset, length]) => ({ oldOffset, newOffset, length })),
          dups: (over.dups ?? []).map(([srcOffset, newOffset, length]) => ({ srcOffset, newOffset, length })),
        });
      const good = s.planBody;
      await t.refused(plan, put(good.subarray(0, 20)), 400, 'MALFORMED');
      await t.refused(plan, put(good.subarray(0, good.length - 1)), 400, 'MALFORMED');
      await t.refused(plan, put(new Uint8Array(0)), 400, 'MALFORMED');
      await t.refused(plan, put(patch8(good, 2, 9)), 400, 'UNSUPPORTED_VERSION');
      await t.refused(plan, put(patch8(good, 4, 2)), 400, 'MALFORMED'); // flags
      await t.refused(plan, put(patch8(good, 5, 1)), 400, 'MALFORMED'); // reserved
      await t.refused(plan, put(patch32(good, 8, s.plan.copies.length + 1)), 400, 'MALFORMED'); // copyCount above the ops sent
      await t.refused(plan, put(patch32(good, 12, 1)), 400, 'MALFORMED'); // dupCount above them
      await t.refused(plan, put(patch32(good, 8, 0xffffffff)), 400, 'MALFORMED');
      await t.refused(plan, put(encodeSignatures({ firstIndex: 0, crcs: new Uint32Array(1), lengths: new Uint32Array(1).fill(1) })), 400, 'MALFORMED');
      await t.refused(plan, put(new Uint8Array(24 + 24 * L.maxPlanOps + 1)), 413, 'TOO_LARGE');
      // Copies reading past the basis, writing past the file's end, or over each other; dups reading ahead.
      await t.refused(plan, put(body([[v1.length - 10, 0, 11]])), 400, 'INVALID_PLAN');
      await t.refused(plan, put(body([[2 ** 52, 0, 10]])), 400, 'INVALID_PLAN');
      await t.refused(plan, put(patch32(body([[0, 0, 10]]), 24 + 8, size)), 400, 'MALFORMED'); // newOffset = size: past the end
      await t.refused(plan, put(patch32(body([[0, size - 10, 10]]), 24 + 16, 11)), 400, 'MALFORMED'); // length runs past the end
      await t.refused(
        plan,
        put(
          patch32(
            body([
              [0, 0, 100],
              [200, 1000, 100],
            ]),
            24 + 24 + 8,
            50,
          ),
        ),
        400,
        'MALFORMED',
      ); // second copy lands inside the first
      await t.refused(plan, put(patch32(body([], { dups: [[0, 1000, 100]] }), 24 + 0, 950)), 400, 'MALFORMED'); // dup source not before its destination
      await t.refused(plan, put(body([], { size: size + 1 })), 400, 'INVALID_PLAN');
      await t.refused(plan, put(body([], { inPlace: true })), 400, 'INVALID_PLAN');
      await t.refused(plan, put(patch32(good, 8, L.maxPlanOps + 1)), 400, 'MALFORMED'); // copyCount above maxPlanOps
      await t.refused(plan, put(body(Array.from({ length: L.maxPlanOps + 1 }, (_, i) => [i * 10, i * 10, 10]))), 413, 'TOO_LARGE');
      await t.unchanged();

      expect((await sendPlan(t.send, s)).status).toBe(204);
      await t.checkpoint(key, [id]);
      await t.refused(plan, put(body([[0, 0, 10]])), 409, 'PART_CONFLICT');
      await t.unchanged();
      await finish(t, s, key);
    },
  },
  {
    name: 'should refuse malformed, truncated, oversized and misplaced parts, then a part sent again with different bytes',
    async run(t) {
      const key = 'hostile/parts.bin';
      const { s } = await setup(t, key, 15);
      const id = s.session.id;
      await t.checkpoint(key, [id]);
      const part = (n: number | string) => `/v1/sessions/${id}/parts/${n}`;
      const good = s.partBodies[0];
      const op = s.plan.parts[0].ops[0];
      const literal = (ops: Array<[number, number]>, payload?: Uint8Array, n = 0) => {
        const bytes = ops.reduce((a, [, len]) => a + len, 0);
        return encodePart(
          {
            part: n,
            ops: ops.map(([newOffset, length]) => ({ newOffset, length })),
            literalBytes: bytes,
            deflated: false,
            payload: payload ?? new Uint8Array(bytes),
          },
          { crc32: (b) => t.k.crc32(b) },
        );
      };
      await t.refused(part(0), put(new Uint8Array(24 + 12 * L.maxPartOps + L.partSize + 5)), 413, 'TOO_LARGE');
      await t.refused(part(1), put(good), 400, 'MALFORMED'); // the body says part 0
      for (const n of ['x', '-1', '1.5', '4294967296', '99999999999', '0x1']) await t.refused(part(n), put(good), 400, 'MALFORMED');
      await t.refused(part(0), put(good.subarray(0, 40)), 400, 'MALFORMED');
      await t.refused(part(0), put(good.subarray(0, good.length - 1)), 400, 'MALFORMED');
      await t.refused(part(0), put(new Uint8Array(0)), 400, 'MALFORMED');
      await t.refused(part(0), put(recrc(t.k, patch8(good, 2, 2))), 400, 'UNSUPPORTED_VERSION');
      await t.refused(part(0), put(recrc(t.k, patch8(good, 4, 4))), 400, 'MALFORMED'); // flags
      await t.refused(part(0), put(recrc(t.k, patch32(good, 12, s.plan.parts[0].ops.length + 1))), 400, 'MALFORMED'); // opCount above the ops sent
      await t.refused(part(0), put(recrc(t.k, patch32(good, 12, L.maxPartOps + 1))), 400, 'MALFORMED');
      await t.refused(part(0), put(recrc(t.k, patch32(good, 16, s.plan.parts[0].literalBytes - 1))), 400, 'MALFORMED'); // literalBytes is not the ops' sum
      await t.refused(part(0), put(recrc(t.k, patch32(good, 20, 1))), 400, 'MALFORMED'); // payloadBytes
      await t.refused(part(0), put(patch8(good, 30, good[30] ^ 1)), 400, 'CHECKSUM_MISMATCH');
      await t.refused(part(0), put(encodePlan({ size: 10, inPlace: false, copies: [], dups: [] })), 400, 'MALFORMED');
      // Well-formed parts whose literals miss the file: past its end, off chunk boundaries, or other bytes than the signatures say.
      await t.refused(part(0), put(literal([[s.data.length, 4]])), 400, 'INVALID_PLAN');
      await t.refused(part(0), put(literal([[op.newOffset + 1, 4]])), 400, 'INVALID_PLAN');
      await t.refused(part(0), put(literal([[op.newOffset, op.length]])), 400, 'INVALID_PLAN');
      await t.refused(
        part(0),
        put(
          literal([
            [op.newOffset, op.length],
            [s.data.length - 1, 1],
          ]),
        ),
        400,
        'INVALID_PLAN',
      );
      await t.refused(part(7), put(literal([[op.newOffset, op.length]], undefined, 7)), 400, 'INVALID_PLAN');
      // Deflated payloads that are not deflate-raw, or inflate past literalBytes (a small body may not expand without bound).
      const zeros = new Uint8Array(4096);
      const bomb = new Uint8Array(
        await new Response(new Blob([new Uint8Array(1 << 20)]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer(),
      );
      await t.refused(
        part(0),
        put(
          encodePart(
            {
              part: 0,
              ops: [{ newOffset: op.newOffset, length: op.length }],
              literalBytes: op.length,
              deflated: true,
              payload: zeros.subarray(0, 100).fill(0xff),
            },
            { crc32: (b) => t.k.crc32(b) },
          ),
        ),
        400,
        'MALFORMED',
      );
      await t.refused(
        part(0),
        put(
          encodePart(
            { part: 0, ops: [{ newOffset: op.newOffset, length: op.length }], literalBytes: op.length, deflated: true, payload: bomb },
            { crc32: (b) => t.k.crc32(b) },
          ),
        ),
        400,
        'MALFORMED',
      );
      // Ops are checked before anything is inflated: a bomb whose ops miss the chunk boundaries is refused for its ops.
      await t.refused(
        part(0),
        put(
          encodePart(
            { part: 0, ops: [{ newOffset: op.newOffset + 1, length: op.length }], literalBytes: op.length, deflated: true, payload: bomb },
            { crc32: (b) => t.k.crc32(b) },
          ),
        ),
        400,
        'INVALID_PLAN',
      );
      await t.unchanged();

      expect((await sendPart(t.send, s, 0)).status).toBe(204);
      await t.checkpoint(key, [id]);
      expect((await sendPart(t.send, s, 0)).status).toBe(204); // the same bytes again: accepted, nothing new
      await t.refused(
        part(0),
        put(
          literal(
            [[op.newOffset, op.length]],
            s.data.subarray(op.newOffset, op.newOffset + op.length).map((b) => b ^ 1),
          ),
        ),
        409,
        'PART_CONFLICT',
      );
      await t.refused(
        part(0),
        put(
          literal(
            s.plan.parts[0].ops.map((o) => [o.newOffset, o.length]),
            s.data.subarray(0, s.plan.parts[0].literalBytes),
          ),
        ),
        409,
        'PART_CONFLICT',
      );
      await t.unchanged();
      await finish(t, s, key);
    },
  },
  {
    name: 'should refuse a commit before every part, with a wrong digest, size, base version or part count',
    async run(t) {
      const key = 'hostile/commit.bin';
      const { s } = await setup(t, key, 16);
      const id = s.session.id;
      const commit = `/v1/sessions/${id}/commit`;
      expect((await sendPlan(t.send, s)).status).toBe(204);
      expect((await sendPart(t.send, s, 1)).status).toBe(204);
      await t.checkpoint(key, [id]);
      await t.refused(commit, json1(s.commit), 409, 'INCOMPLETE');
      expect((await sendPart(t.send, s, 0)).status).toBe(204);
      await t.checkpoint(key, [id]);
      await t.refused(commit, json1({ ...s.commit, root: '0'.repeat(64) }), 422, 'ROOT_MISMATCH');
      await t.refused(commit, json1({ ...s.commit, root: s.commit.root.toUpperCase() }), 400, 'INVALID_ARGUMENT');
      await t.refused(commit, json1({ ...s.commit, root: 'zz' }), 400, 'INVALID_ARGUMENT');
      await t.refused(commit, json1({ ...s.commit, size: s.commit.size + 1 }), 400, 'INVALID_ARGUMENT');
      await t.refused(commit, json1({ ...s.commit, size: -1 }), 400, 'INVALID_ARGUMENT');
      await t.refused(commit, json1({ ...s.commit, baseVersion: null }), 409, 'VERSION_CONFLICT');
      await t.refused(commit, json1({ ...s.commit, baseVersion: 'v_nope' }), 409, 'VERSION_CONFLICT');
      await t.refused(commit, json1({ ...s.commit, parts: s.commit.parts + 1 }), 409, 'INCOMPLETE');
      await t.refused(commit, json1({ ...s.commit, parts: s.commit.parts - 1 }), 400, 'INVALID_PLAN'); // part 1 landed beyond it
      await t.refused(commit, json1({ ...s.commit, parts: 2 ** 40 }), 400, 'INVALID_ARGUMENT');
      await t.refused(commit, json1([s.commit]), 400, 'MALFORMED');
      await t.refused(commit, post('{'), 400, 'MALFORMED');
      await t.refused(commit, post('x'.repeat(100_000)), 413, 'TOO_LARGE');
      await t.unchanged();
      await finish(t, s, key);
    },
  },
  {
    name: 'should refuse an in-place plan whose copies read bytes an earlier copy overwrote',
    async run(t) {
      // Two halves swapped: copied in place in either order, the second copy would read what the first wrote.
      const key = 'hostile/in-place.bin';
      const fixed = { kind: 'fixed' as const, block: 4096 };
      const v1 = randomBytes(64 * 1024, 19);
      await push(t.send, t.k, v1, { key, chunking: fixed });
      const half = 32 * 1024;
      const v2 = new Uint8Array(v1.length);
      v2.set(v1.subarray(half), 0);
      v2.set(v1.subarray(0, half), half);
      const s = await start(t.send, t.k, v2, { key, chunking: fixed, inPlace: true });
      await t.checkpoint(key, [s.session.id]);
      const swap = encodePlan({
        size: v2.length,
        inPlace: true,
        copies: [
          { oldOffset: half, newOffset: 0, length: half },
          { oldOffset: 0, newOffset: half, length: half },
        ],
        dups: [],
      });
      const message = await t.refused(`/v1/sessions/${s.session.id}/plan`, put(swap), 400, 'INVALID_PLAN');
      expect(message).toContain('copy[1]');
      await t.unchanged();
      await finish(t, s, key); // the client's own ordered plan (one half sent as a literal) goes through
    },
  },
  {
    name: 'should refuse sessions whose chunking makes manifests too large, or one chunking more than a version keeps',
    async run(t) {
      const key = 'hostile/manifests.bin';
      await push(t.send, t.k, randomBytes(300 * 1024, 20), { key, batch: 20 });
      await t.checkpoint(key);
      const session = (chunking: unknown) => json1({ key, size: 300 * 1024, chunking });
      // 64-byte blocks: 4,800 chunks of the new file and of the basis, above maxManifestChunks; no manifest is built.
      expect(await t.refused('/v1/sessions', session({ kind: 'fixed', block: 64 }), 413, 'TOO_LARGE')).toContain(`maxManifestChunks ${L.maxManifestChunks}`);
      await t.unchanged();
      // The version keeps cdc (from its push); two more chunkings get manifests, a fourth is refused.
      for (const block of [1024, 2048]) expect((await t.send('/v1/sessions', session({ kind: 'fixed', block }))).status).toBe(201);
      const message = await t.refused('/v1/sessions', session({ kind: 'fixed', block: 4096 }), 400, 'INVALID_ARGUMENT');
      expect(message).toContain(`maxChunkingsPerVersion ${L.maxChunkingsPerVersion}`);
    },
  },
  {
    name: 'should answer unknown, malformed and traversing session ids with 404 on every session route',
    async run(t) {
      const key = 'hostile/ids.bin';
      const { s } = await setup(t, key, 17);
      await t.checkpoint(key, [s.session.id]);
      const ids = [
        's_000000000000000000000000',
        `${s.session.id}x`,
        `${s.session.id.slice(0, -1)}`,
        '..%2F..%2Fx',
        '%2e%2e',
        's_%00',
        '%zz',
        `${s.session.id}%E0%A4%A`,
        'x'.repeat(2000),
      ];
      for (const id of ids) {
        await t.refused(`/v1/sessions/${id}`, undefined, 404, 'NOT_FOUND');
        await t.refused(`/v1/sessions/${id}`, { method: 'DELETE' }, 404, 'NOT_FOUND');
        await t.refused(`/v1/sessions/${id}/plan`, put(s.planBody), 404, 'NOT_FOUND');
        await t.refused(`/v1/sessions/${id}/parts/0`, put(s.partBodies[0]), 404, 'NOT_FOUND');
        await t.refused(`/v1/sessions/${id}/match`, post(new Uint8Array(30)), 404, 'NOT_FOUND');
        await t.refused(`/v1/sessions/${id}/commit`, json1(s.commit), 404, 'NOT_FOUND');
      }
      await t.refused(`/v1/sessions/${s.session.id}/nothing`, post('{}'), 404, 'NOT_FOUND');
      await t.unchanged();
      await finish(t, s, key);
    },
  },
];
