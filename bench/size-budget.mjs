// Size budget: the files a browser downloads in production to run tokenward (the .wasm
// and the JS modules of the default entry, wasm-bindgen's snippets included), each
// compressed with gzip -9 as a server would send it, added up and compared with
// bench/size-budget.json; and the .wasm's function exports and imports counted against
// the same file, since each one costs a shim in the .wasm and a wrapper in the glue
// (DESIGN.md, Size: a method is a case of a dispatcher export, not an export of its own).
// Deterministic, Node built-ins only (`npm test` runs it without bench/'s dependencies):
//
//   node bench/size-budget.mjs          exits 1 when over budget, 2 when dist/ is missing
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const FILES = ['tokenward_bg.wasm', 'tokenward.js', 'client.js', 'index.js'];
// The JS modules the glue imports (`#[wasm_bindgen(module = …)]`), under dist/snippets/.
try {
  for (const f of readdirSync(join(root, 'dist', 'snippets'), { recursive: true })) {
    if (String(f).endsWith('.js')) FILES.push(join('snippets', String(f)));
  }
} catch {
  // No snippets: nothing to add.
}
const { gzipBytes: budget, wasmFunctionExports, wasmImports } = JSON.parse(
  readFileSync(join(root, 'bench', 'size-budget.json'), 'utf8'),
);

let total = 0;
const rows = [];
for (const file of FILES) {
  let bytes;
  try {
    bytes = readFileSync(join(root, 'dist', file));
  } catch {
    console.error(`size budget: dist/${file} is missing: run \`npm run build\` first`);
    process.exit(2);
  }
  const gzip = gzipSync(bytes, { level: 9 }).length;
  total += gzip;
  rows.push(`  ${(file.startsWith('snippets') ? `…/${file.split('/').pop()}` : file).padEnd(18)} ${String(bytes.length).padStart(8)} B raw ${String(gzip).padStart(8)} B gzip`);
}

console.log(rows.join('\n'));
const percent = ((100 * total) / budget).toFixed(1);
console.log(`size budget: ${total} B gzip -9 of ${budget} B (${percent} %)`);
let over = total > budget;
if (over) {
  console.error(`size budget exceeded by ${total - budget} B: shrink the build, or raise bench/size-budget.json on purpose`);
}
const wasmModule = new WebAssembly.Module(readFileSync(join(root, 'dist', 'tokenward_bg.wasm')));
const exported = WebAssembly.Module.exports(wasmModule).filter((e) => e.kind === 'function').length;
const imported = WebAssembly.Module.imports(wasmModule).length;
console.log(`.wasm: ${exported} function exports of ${wasmFunctionExports}, ${imported} imports of ${wasmImports}`);
if (exported > wasmFunctionExports || imported > wasmImports) {
  console.error('more .wasm exports or imports than bench/size-budget.json allows: add a case to a dispatcher (src/bindings), or raise it on purpose');
  over = true;
}
if (over) process.exit(1);
