// Finds the `@example` of every JSDoc comment in the package's sources and
// turns each into a small TypeScript module, so a test can compile it
// against the code it documents (jsdoc-examples.test.ts).
import { readFileSync } from 'node:fs';

export interface Example {
  /** The source file (absolute) and the line of its `@example` tag. */
  file: string;
  line: number;
  code: string;
}

const COMMENT = /\/\*\*[\s\S]*?\*\//g;

/** Every `@example` in `file`: the tag's text up to the next tag or the comment's end, with the ` * ` margins removed. */
export function examplesOf(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const out: Example[] = [];
  for (const m of text.matchAll(COMMENT)) {
    const lines = m[0]
      .slice(3, -2)
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''));
    const startLine = text.slice(0, m.index).split('\n').length;
    for (let i = 0; i < lines.length; i++) {
      const at = lines[i].indexOf('@example');
      if (at < 0) continue;
      const body = [lines[i].slice(at + '@example'.length)];
      for (let j = i + 1; j < lines.length && !/^\s*@\w+/.test(lines[j]); j++) body.push(lines[j]);
      const code = body.join('\n').trim();
      out.push({ file, line: startLine + i, code });
    }
  }
  return out;
}
