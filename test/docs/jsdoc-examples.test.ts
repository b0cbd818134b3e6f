// Every `@example` in the sources (what an editor shows on hover) is
// compiled against the code it documents: the names it uses are imported
// from its own module, or the entry point of its side (browser, Node,
// endpoint, kernels, Worker), and the names a reader's surrounding code would
// hold are declared with their real types below. An example that drifts from
// its function's signature fails here. Examples of the form `a === b` that
// need nothing but their module are run as well.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { type Example, examplesOf } from './jsdoc-examples.js';

const repo = join(import.meta.dirname, '../..');
const at = (p: string) => join(repo, p);
const T = (module: string, type: string) => `import('${at(module).replace(/\.ts$/, '.js')}').${type}`;

/** Names the examples use without defining them, as a reader's code would hold them, with their types. */
const CONTEXT: Record<string, string> = {
  endpoint: 'string',
  key: 'string',
  token: 'string',
  path: 'string',
  n: 'number',
  partSize: 'number',
  bytes: 'Uint8Array',
  a: 'Uint8Array',
  b: 'Uint8Array',
  buf: 'Uint8Array',
  old: 'Uint8Array',
  payload: 'Uint8Array',
  body: 'Uint8Array',
  given: 'string',
  configured: 'string',
  digest: 'string',
  out: 'Uint8Array',
  fd: 'number',
  stat: `import('node:fs').Stats`,
  fs: `typeof import('node:fs')`,
  zlib: `typeof import('node:zlib') & { crc32(data: Uint8Array): number }`,
  file: 'File',
  input: 'HTMLInputElement & { files: FileList }',
  show: '(p: unknown) => void',
  use: '(b: Uint8Array) => void',
  send: '(b: unknown) => void',
  upload: '(p: unknown) => Promise<void>',
  part: T('sdk/push/plan.ts', 'PartPlan'),
  newFile: 'Uint8Array',
  write: '(offset: number, bytes: Uint8Array) => void',
  segments: `${T('sdk/signatures/batches.ts', 'SegmentChunks')}[]`,
  concat: '(a: Uint8Array, b: Uint8Array) => Uint8Array',
  seg: 'Uint8Array',
  k: T('core/kernels/api.ts', 'Kernels'),
  instance: T('core/kernels/instance.ts', 'KernelInstance'),
  compiled: '{ module: WebAssembly.Module; simd: boolean }',
  kernels: T('core/kernels/api.ts', 'Kernels'),
  buffers: T('core/base/buffer-pool.ts', 'BufferPool'),
  pool: T('sdk/pool/pool.ts', 'WorkerPool<import("' + at('sdk/pool/thread-api.js') + '").ThreadApi>'),
  record: T('sdk/push/resume.ts', 'ResumeRecord'),
  resume: T('sdk/push/resume.ts', 'ResumeStore'),
  chunking: T('core/protocol/chunking.ts', 'ChunkingSpec'),
  spec: T('core/protocol/chunking.ts', 'ChunkingSpec & { kind: "cdc" }'),
  output: `(size: number) => Promise<${T('sdk/pull/options.ts', 'PullOutput')}>`,
  plan: T('core/protocol/wire.ts', 'PlanMessage'),
  parts: `${T('core/protocol/apply.ts', 'LandedPart')}[]`,
  p: T('core/protocol/wire-part.ts', 'PartMessage'),
  basis: `${T('core/protocol/manifest.ts', 'Manifest')} & { size: number }`,
  manifest: T('core/protocol/manifest.ts', 'Manifest'),
  session: '{ lengths: Uint32Array; partSize: number }',
  chunks: T('core/protocol/match.ts', 'NewChunks'),
  oldOffsets: 'Float64Array',
  m: T('core/protocol/wire.ts', 'Matches'),
  s: T('core/protocol/chunk-sources.ts', 'ChunkSources'),
  landed: 'Uint8Array',
  crcs: 'Uint32Array',
  lengths: 'Uint32Array',
  res: 'Response',
  batches: '{ end: number }[]',
  source: T('sdk/source.ts', 'SyncSource'),
  http: T('sdk/http.ts', 'Http'),
  store: T('worker/store/store.ts', 'Store'),
  limits: T('core/base/limits.ts', 'Limits'),
  c: `import('hono').Context`,
  app: `import('hono').Hono`,
  opts: 'object',
  info: T('worker/store/store.ts', 'VersionInfo'),
  cache: T('worker/manifests.ts', 'ManifestCache'),
  sessions: T('worker/sessions.ts', 'Sessions'),
  id: 'string',
  spool: T('worker/node/spool.ts', 'FsSpool'),
  intake: T('worker/body-intake.ts', 'BodyIntake'),
  req: 'Request',
  cap: 'number',
  budget: T('core/base/byte-budget.ts', 'ByteBudget'),
  handle: '(b: Uint8Array) => Promise<Response>',
  maxBytes: 'number',
  ttlMs: 'number',
  size: 'number',
  queue: '{ send(body: unknown): Promise<void> }',
  expectedVersion: 'string | null',
  commitSteps: '() => Promise<void>',
  workers: `${T('sdk/pool/pool.ts', `PoolWorker<${T('sdk/pool/thread-api.ts', 'ThreadApi')}>`)}[]`,
  // The Worker's (worker/cloudflare, worker/store/r2)
  env: T('worker/cloudflare/env.ts', 'Env'),
  ctx: 'DurableObjectState',
  request: 'Request',
  reader: `Promise<import('hono').Hono<{ Bindings: ${T('worker/cloudflare/env.ts', 'Env')} }>>`,
  ip: 'string',
  ticket: 'string',
  bucket: 'R2Bucket',
  compactor: T('worker/store/r2/compaction.ts', 'Compactor'),
  objects: T('worker/store/r2/objects.ts', 'Objects'),
  stagings: T('worker/store/r2/staging.ts', 'R2Stagings'),
  limit: 'number',
};

/** The modules an example's free names are looked for in, after its own: its folder's, then the entry points, its side's first. */
const ENTRIES = ['sdk/node/index.ts', 'sdk/browser/index.ts', 'worker/node/index.ts', 'core/kernels/index.ts', 'worker/cloudflare/index.ts'];
const PACKAGE_ENTRIES: Record<string, string> = {
  deltaflare: 'sdk/node/index.ts',
  'deltaflare/browser': 'sdk/browser/index.ts',
  'deltaflare/uppy': 'sdk/uppy/index.ts',
  'deltaflare/react': 'sdk/react/index.ts',
  'deltaflare/server': 'worker/node/index.ts',
  'deltaflare/kernels': 'core/kernels/index.ts',
  'deltaflare/cloudflare': 'worker/cloudflare/index.ts',
};
const SIDE: Array<[RegExp, string]> = [
  [/^sdk\/(browser|react)\//, 'sdk/browser/index.ts'],
  // Its example shows the backend signing and the browser syncing.
  [/^core\/protocol\/upload-token\.ts$/, 'sdk/browser/index.ts'],
  [/^worker\/cloudflare\/|^worker\/store\/r2\//, 'worker/cloudflare/index.ts'],
  [/^worker\//, 'worker/node/index.ts'],
];

const sources = execFileSync('git', ['ls-files', 'core/*.ts', 'sdk/*.ts', 'worker/*.ts', 'cli/*.ts'], { cwd: repo, encoding: 'utf8' })
  .trim()
  .split('\n')
  .filter((f) => !f.endsWith('.d.ts'));
const examples = sources.flatMap((f) => examplesOf(at(f)));

/** The TypeScript project a source belongs to: the Worker's (workers-types) or the main one. */
const projectOf = (file: string) => (/^worker\/(cloudflare|store\/r2)\//.test(relative(repo, file)) ? 'worker/cloudflare/tsconfig.json' : 'tsconfig.json');

function identifiers(code: string): Set<string> {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, code);
  const names = new Set<string>();
  let previous = ts.SyntaxKind.Unknown;
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    // Contextual keywords (`out`, `type`, `of`...) are names too.
    const name = kind === ts.SyntaxKind.Identifier || (kind > ts.SyntaxKind.LastReservedWord && kind <= ts.SyntaxKind.LastKeyword);
    if (name && previous !== ts.SyntaxKind.DotToken && previous !== ts.SyntaxKind.QuestionDotToken) names.add(scanner.getTokenValue());
    previous = kind;
  }
  return names;
}

/** An example that imports what it uses, as a user would (`from 'deltaflare/...'`, mapped to the sources), at a module's top level. */
function selfContained(code: string): string {
  return code.replace(/from '(deltaflare(?:\/\w+)?)'/g, (_, spec: string) => {
    const entry = PACKAGE_ENTRIES[spec];
    if (!entry) throw new Error(`no entry point ${spec}`);
    return `from '${at(entry).replace(/\.ts$/, '.js')}'`;
  });
}

const texts = new Map<string, string>();
/** A source's text, read once. */
const textOf = (rel: string) => texts.get(rel) ?? texts.set(rel, readFileSync(at(rel), 'utf8')).get(rel)!;

/** An example of a few statements: its free names imported from `search` (first hit) or declared from CONTEXT, inside an async function. */
function withContext(code: string, rel: string, search: string[], exportNames: (rel: string) => Set<string>): string {
  const imports = new Map<string, string[]>();
  const declared: string[] = [];
  for (const name of identifiers(code)) {
    const own = exportNames(rel).has(name);
    // Anywhere else: the one module that declares it (others may re-export it).
    const declares = (f: string) => new RegExp(`export (async )?(function\\*?|const|class|interface|type) ${name}\\b`).test(textOf(f));
    const candidates = sources.filter((f) => exportNames(f).has(name) && declares(f));
    const from = own
      ? rel
      : name in CONTEXT
        ? undefined
        : (search.find((f) => exportNames(f).has(name)) ?? (candidates.length === 1 ? candidates[0] : undefined));
    if (from) imports.set(from, [...(imports.get(from) ?? []), name]);
    else if (name in CONTEXT) declared.push(`declare const ${name}: ${CONTEXT[name]};`);
  }
  return [
    ...[...imports].map(([f, names]) => `import { ${names.join(', ')} } from '${at(f).replace(/\.ts$/, '.js')}';`),
    ...declared,
    'export async function example() {',
    code,
    '}',
  ].join('\n');
}

/** Compiles `list` (all in one project) and returns each example's errors, empty when it compiles. */
function compile(project: string, list: Example[]): string[][] {
  const config = ts.getParsedCommandLineOfConfigFile(at(project), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const options = { ...config.options, noEmit: true, noUnusedLocals: false, declaration: false, sourceMap: false };
  const probe = ts.createProgram(config.fileNames, options);
  const checker = probe.getTypeChecker();
  const exportsOf = new Map<string, Set<string>>();
  const exportNames = (rel: string) => {
    let names = exportsOf.get(rel);
    if (!names) {
      const sf = probe.getSourceFile(at(rel));
      const symbol = sf && checker.getSymbolAtLocation(sf);
      names = new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.name) : []);
      exportsOf.set(rel, names);
    }
    return names;
  };
  const virtual = new Map<string, string>();
  list.forEach((e, i) => {
    const rel = relative(repo, e.file);
    const folder = dirname(rel);
    const side = SIDE.find(([re]) => re.test(rel))?.[1];
    const search = [
      rel,
      ...(side ? [side] : []),
      ...sources.filter((f) => dirname(f) === folder && f !== rel),
      ...ENTRIES.filter((f) => f !== side && (projectOf(at(f)) === project || f.startsWith('sdk/'))),
    ];
    const text = /^import /m.test(e.code) ? selfContained(e.code) : withContext(e.code, rel, search, exportNames);
    virtual.set(join(dirname(e.file), `__example_${i}.ts`), text);
  });
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => {
    const text = virtual.get(name);
    return text !== undefined ? ts.createSourceFile(name, text, lang) : getSourceFile.call(host, name, lang, ...rest);
  };
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...config.fileNames, ...virtual.keys()], options, host, probe);
  return [...virtual.entries()].map(([name, text]) =>
    ts
      .getPreEmitDiagnostics(program, program.getSourceFile(name))
      .map((d) => `${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n--- compiled as:\n${text}`),
  );
}

describe('the JSDoc examples', () => {
  it('should be found: at least one per entry point and the tag in every module that has one', () => {
    expect(examples.length).toBeGreaterThan(90);
    for (const entry of ['sdk/node/index.ts', 'sdk/browser/index.ts', 'worker/http/app.ts', 'core/kernels/index.ts'])
      expect(
        examples.some((e) => relative(repo, e.file) === entry),
        entry,
      ).toBe(true);
  });

  for (const project of ['tsconfig.json', 'worker/cloudflare/tsconfig.json']) {
    it(`should compile against the code they document (${project})`, () => {
      const list = examples.filter((e) => projectOf(e.file) === project);
      const errors = compile(project, list);
      const failed = list.flatMap((e, i) => (errors[i].length ? [`${relative(repo, e.file)}:${e.line}: ${errors[i][0]}`] : []));
      expect(failed).toEqual([]);
    }, 120_000);
  }

  it('should hold where they state an equality on their module alone', async () => {
    let ran = 0;
    for (const e of examples) {
      const m = /^([^\n;]+?) === ([^\n;]+)$/.exec(e.code);
      if (!m || projectOf(e.file) !== 'tsconfig.json') continue;
      const mod = (await import(e.file)) as Record<string, unknown>;
      let value: unknown;
      try {
        value = new Function(...Object.keys(mod), `return (${e.code});`)(...Object.values(mod));
      } catch (err) {
        if (err instanceof ReferenceError) continue; // it needs a reader's context (CONTEXT): compiled above, not run
        throw err;
      }
      expect(value, `${relative(repo, e.file)}:${e.line}: ${e.code}`).toBe(true);
      ran++;
    }
    expect(ran).toBeGreaterThanOrEqual(5);
  });
});
