// The type test: copies tests/types/ into <app>/types-test/ (an app with the packed
// package installed, see tests/e2e/harness.mjs prepareApp) and runs the repo's pinned
// `tsc --noEmit --strict` there, so 'tokenward' and 'tokenward/react' resolve as they do
// for a user's app. The app has no React: `react` types map to the repo's @types/react.
// Usage: node tests/types/run.mjs <app dir>
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const modules = join(here, '..', '..', 'node_modules');
const tsc = join(modules, 'typescript', 'bin', 'tsc');
const app = resolve(process.argv[2] || process.env.TOKENWARD_APP_DIR || '');
if (!process.argv[2] && !process.env.TOKENWARD_APP_DIR) {
  console.error('usage: node tests/types/run.mjs <app dir with the packed tokenward installed>');
  process.exit(2);
}
const dir = join(app, 'types-test');
mkdirSync(dir, { recursive: true });
for (const f of ['app.ts', 'react.tsx', 'tsconfig.json']) cpSync(join(here, f), join(dir, f));
const react = join(modules, '@types', 'react');
writeFileSync(join(dir, 'tsconfig.run.json'), `${JSON.stringify({
  extends: './tsconfig.json',
  compilerOptions: { paths: { react: [react], 'react/*': [`${react}/*`] } },
}, null, 2)}\n`);
try {
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '-p', join(dir, 'tsconfig.run.json')], { stdio: 'inherit' });
} catch {
  console.error('type test failed (tsc --noEmit --strict)');
  process.exit(1);
}
console.log('type test passed (tsc --noEmit --strict)');
