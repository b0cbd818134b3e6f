#!/usr/bin/env node
// Refuses import cycles and imports against the layers (run by `npm test`):
//   core/base <- core/kernels <- core/protocol <- client (sdk/)
//                                              <- endpoint (worker/) <- its HTTP surface (worker/http/)
//                                                 <- its runtimes (worker/node/, worker/cloudflare/) <- cli
// The shared layers live in core/, which both sides import and which imports
// neither. The demo page sits beside the CLI and sees the client only.
// Type-only imports count too: a type cycle is still two modules that know
// each other.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOTS = ['core', 'sdk', 'worker', 'cli', 'demo'];

/** The layer of a repo-relative path, most specific first. */
const LAYERS = [
  ['core/base/', 'base'],
  ['core/kernels/', 'kernels'],
  ['core/protocol/', 'protocol'],
  ['sdk/', 'client'],
  ['worker/http/', 'http'],
  ['worker/node/', 'runtime'],
  ['worker/cloudflare/', 'runtime'],
  ['worker/', 'endpoint'],
  ['cli/', 'cli'],
  ['demo/', 'demo'],
];
/** What each layer may import. */
const ALLOWED = {
  base: ['base'],
  kernels: ['base', 'kernels'],
  protocol: ['base', 'kernels', 'protocol'],
  client: ['base', 'kernels', 'protocol', 'client'],
  endpoint: ['base', 'kernels', 'protocol', 'endpoint'],
  http: ['base', 'kernels', 'protocol', 'endpoint', 'http'],
  runtime: ['base', 'kernels', 'protocol', 'endpoint', 'http', 'runtime'],
  cli: ['base', 'kernels', 'protocol', 'client', 'endpoint', 'http', 'runtime', 'cli'],
  demo: ['base', 'kernels', 'protocol', 'client', 'demo'],
};
const layerOf = (path) => LAYERS.find(([prefix]) => path.startsWith(prefix))?.[1];

function sources(dir) {
  const out = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|new URL\(\s*['"](\.[^'"]+)['"],\s*import\.meta\.url/g;

/** Repo-relative .ts path of a relative specifier, or null for packages and non-source files. */
function resolveSpec(from, spec) {
  if (!spec.startsWith('.')) return null;
  const abs = resolve(root, dirname(from), spec);
  for (const cand of [abs.replace(/\.js$/, '.ts'), abs, `${abs}.ts`, join(abs, 'index.ts')]) {
    if (cand.endsWith('.ts') && existsSync(cand)) return relative(root, cand);
  }
  return null;
}

const files = ROOTS.flatMap(sources);
const graph = new Map(files.map((f) => [f, new Set()]));
const problems = [];
for (const f of files) {
  const text = readFileSync(join(root, f), 'utf8').replace(/^\s*\/\/.*$/gm, '');
  for (const m of text.matchAll(IMPORT)) {
    const to = resolveSpec(f, m[1] ?? m[2] ?? m[3]);
    if (!to) continue;
    if (!graph.has(to)) graph.set(to, new Set());
    graph.get(f).add(to);
    const [a, b] = [layerOf(f), layerOf(to)];
    if (a && b && !ALLOWED[a].includes(b)) problems.push(`against the layers: ${f} (${a}) imports ${to} (${b})`);
  }
}

// Cycles: strongly connected components of more than one module (Tarjan).
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function strong(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v)?.has(v)) problems.push(`import cycle: ${scc.sort().join(' -> ')}`);
  }
}
for (const v of graph.keys()) if (!idx.has(v)) strong(v);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`check-deps: ${graph.size} modules, no cycles, no import against the layers`);
