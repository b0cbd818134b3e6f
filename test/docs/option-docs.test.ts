// Hover docs on every option: each property of an options object that a
// public function, constructor or type of an entry point takes (and of the
// option objects nested in it, e.g. `access`, `retry`) has a doc comment in
// the source, which is what an editor shows on hover from the .d.ts.
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '../..');

const ENTRIES: Record<string, string[]> = {
  'tsconfig.json': ['sdk/node/index.ts', 'sdk/browser/index.ts', 'sdk/uppy/index.ts', 'sdk/react/index.ts', 'worker/node/index.ts', 'core/kernels/index.ts'],
  'worker/cloudflare/tsconfig.json': ['worker/cloudflare/index.ts'],
};

/** Types whose properties are options (checked, and followed into their nested option types). */
const OPTIONS_TYPE = /(Options|Limits|Event|Hooks|Env|Refusal|Progress|Result)$/;

function undocumented(project: string, entries: string[]): { checked: number; missing: string[] } {
  const config = ts.getParsedCommandLineOfConfigFile(join(repo, project), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const program = ts.createProgram(
    entries.map((e) => join(repo, e)),
    config.options,
  );
  const checker = program.getTypeChecker();
  const ours = (d: ts.Declaration) => !d.getSourceFile().fileName.includes('node_modules') && d.getSourceFile().fileName.startsWith(repo);
  const seen = new Set<ts.Type>();
  const missing = new Set<string>();
  let checked = 0;

  const visitType = (type: ts.Type, where: string) => {
    if (seen.has(type)) return;
    seen.add(type);
    if (type.isUnion() || type.isIntersection()) {
      for (const t of type.types) visitType(t, where);
      return;
    }
    if (!(type.flags & ts.TypeFlags.Object)) return;
    const name = type.aliasSymbol?.name ?? type.getSymbol()?.name ?? '';
    const anonymous = name === '__type' || name === '__object' || name === '';
    if (!anonymous && !OPTIONS_TYPE.test(name)) return;
    if (type.getCallSignatures().length) return;
    for (const prop of checker.getPropertiesOfType(type)) {
      const decls = (prop.getDeclarations() ?? []).filter(ours);
      if (!decls.length) continue;
      checked++;
      if (!prop.getDocumentationComment(checker).length) {
        const d = decls[0];
        const { line } = d.getSourceFile().getLineAndCharacterOfPosition(d.getStart());
        missing.add(`${relative(repo, d.getSourceFile().fileName)}:${line + 1} ${anonymous ? where : name}.${prop.name}`);
      }
      const propType = checker.getTypeOfSymbol(prop);
      visitType(checker.getNonNullableType(propType), `${where}.${prop.name}`);
    }
  };

  for (const entry of entries) {
    const sf = program.getSourceFile(join(repo, entry))!;
    for (const exported of checker.getExportsOfModule(checker.getSymbolAtLocation(sf)!)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decl = symbol.getDeclarations()?.[0];
      if (!decl) continue;
      if (symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) {
        visitType(checker.getDeclaredTypeOfSymbol(symbol), exported.name);
        continue;
      }
      const type = checker.getTypeOfSymbolAtLocation(symbol, decl);
      const signatures = [...type.getCallSignatures(), ...type.getConstructSignatures()];
      // A class's static factories (FsStore.open) take options too.
      if (symbol.flags & ts.SymbolFlags.Class) {
        for (const s of checker.getPropertiesOfType(type)) {
          const d = s.getDeclarations()?.[0];
          if (d) signatures.push(...checker.getTypeOfSymbolAtLocation(s, d).getCallSignatures());
        }
      }
      for (const signature of signatures) {
        for (const param of signature.getParameters()) {
          const d = param.getDeclarations()?.[0];
          if (d) visitType(checker.getNonNullableType(checker.getTypeOfSymbolAtLocation(param, d)), `${exported.name}(${param.name})`);
        }
      }
    }
  }
  return { checked, missing: [...missing].sort() };
}

describe('the public options', () => {
  for (const [project, entries] of Object.entries(ENTRIES)) {
    it(`should each have a doc comment for hover (${entries.join(', ')})`, () => {
      const { checked, missing } = undocumented(project, entries);
      expect(missing).toEqual([]);
      expect(checked).toBeGreaterThan(project === 'tsconfig.json' ? 80 : 10);
    }, 120_000);
  }
});
