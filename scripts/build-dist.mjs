// Builds dist/ from the sources (after build-wasm.mjs): the Node and browser
// build (tsconfig.build.json), the Cloudflare entry and workerd kernels
// (tsconfig.cloudflare.build.json), the .wasm files those import as modules
// (dist/build/), and an executable CLI. dist/ is made anew each time, so
// nothing stale is packed.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = `${root}node_modules/.bin/tsc`;

rmSync(`${root}dist`, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.cloudflare.build.json']) {
  execFileSync(tsc, ['-p', project], { cwd: root, stdio: 'inherit' });
}
for (const wasm of ['kernels.wasm', 'kernels-scalar.wasm']) cpSync(`${root}build/${wasm}`, `${root}dist/build/${wasm}`);
chmodSync(`${root}dist/cli/main.js`, 0o755);
