// `npm run build`: the publishable files in dist/.
// Release build of the crate for wasm32, wasm-bindgen (--target web, no default module
// path: the entries say where the .wasm is), wasm-opt -Oz from the npm `binaryen`
// package, short import/export names, functions ordered for gzip, dead text zeroed, then
// the JS entries, the types and the inlined-bytes module for dev servers.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { releaseEnv } from './release-env.mjs';
import { FEATURES, PASSES } from './wasm-opt-args.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

// Without the crate's `std` feature: no std in the .wasm (see src/lib.rs). opt-level z's
// own inliner: the threshold 0 that was 350 B smaller is 58 B larger since `Error` is one
// pointer wide (DESIGN.md, Size).
// The dependencies' paths remapped, and LLVM's inliner with a call penalty of 40
// (scripts/release-env.mjs).
execFileSync('cargo', ['build', '--release', '--lib', '--target', 'wasm32-unknown-unknown', '--no-default-features'],
  { cwd: root, stdio: 'inherit', env: releaseEnv(root) });
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
// Cargo's build directory: $CARGO_TARGET_DIR (scripts/test.sh keeps one across clones) or target/.
const targetDir = resolve(root, process.env.CARGO_TARGET_DIR || 'target');
run('wasm-bindgen', [
  join(targetDir, 'wasm32-unknown-unknown', 'release', 'tokenward.wasm'),
  '--out-dir', dist, '--target', 'web', '--omit-default-module-path', '--no-typescript',
]);
const wasm = join(dist, 'tokenward_bg.wasm');
// Functions never run that the function table keeps, stubbed while the names are there
// (see scripts/stub-dead.mjs).
run('node', [join(root, 'scripts', 'stub-dead.mjs'), wasm]);
// --flatten --rereloop, then -Oz twice: 465 B gzip smaller than one -Oz (DESIGN.md, Size).
// --low-memory-unused lets small constant additions fold into load/store offsets; it
// assumes no access wraps around into the first 1 KB, which Rust's pointers never do
// (294 B gzip; DESIGN.md, Size). --converge repeats the passes while the file shrinks
// (80 B gzip after the function order below, for ~7 s of build time). A function with one
// caller stays whole above 30 expressions (895 B gzip; scripts/wasm-opt-args.mjs).
run(join(root, 'node_modules', '.bin', 'wasm-opt'), [...PASSES, '--strip-producers', '--strip-target-features', ...FEATURES, wasm, '-o', wasm]);
// Short import/export names in the .wasm and its glue (see scripts/minify-names.mjs).
run('node', [join(root, 'scripts', 'minify-names.mjs'), wasm, join(dist, 'tokenward.js')]);
// The glue without the branches tokenward never takes (see scripts/trim-glue.mjs).
run('node', [join(root, 'scripts', 'trim-glue.mjs'), join(dist, 'tokenward.js')]);
// Functions with similar code next to each other, for gzip's window (see
// scripts/order-functions.mjs; 812 B gzip when it came, 498 more with its local search).
run('node', [join(root, 'scripts', 'order-functions.mjs'), wasm]);
// Text in the data that nothing refers to any more (panic messages and tables whose code
// wasm-opt removed) zeroed in place (see scripts/blank-dead-data.mjs).
run('node', [join(root, 'scripts', 'blank-dead-data.mjs'), wasm]);
// wasm-bindgen's snippets (`#[wasm_bindgen(module = …)]`, e.g. js/dpop.js under
// dist/snippets/): whole-line comments and indentation dropped, nothing else changed.
for (const f of readdirSync(join(dist, 'snippets'), { recursive: true })) {
  if (!String(f).endsWith('.js')) continue;
  const file = join(dist, 'snippets', String(f));
  const lines = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, lines.filter((l) => !/^\s*(\/\/|\/\*\*.*\*\/\s*$)/.test(l)).map((l) => l.trimStart()).join('\n'));
}
for (const f of ['client.js', 'index.js', 'index.dev.js', 'index.d.ts', 'react.js', 'react.d.ts']) copyFileSync(join(root, 'js', f), join(dist, f));
const b64 = readFileSync(wasm).toString('base64');
writeFileSync(join(dist, 'wasm-inline.js'),
  '// The .wasm bytes, for the development entry only (dev servers that pre-bundle).\n' +
  `const b64 = '${b64}';\n` +
  'export function wasmBytes() {\n' +
  '  const s = atob(b64);\n' +
  '  const bytes = new Uint8Array(s.length);\n' +
  '  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);\n' +
  '  return bytes;\n' +
  '}\n');
console.log(`dist/tokenward_bg.wasm: ${statSync(wasm).size} bytes`);
