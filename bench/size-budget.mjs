// Size budget: the files a browser downloads in production to run tokenward (the .wasm
// and the JS modules of the default entry, wasm-bindgen's snippets included), each compressed with gzip -9 as a
// server would send it, added up and compared with bench/size-budget.json.
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
const { gzipBytes: budget } = JSON.parse(readFileSync(join(root, 'bench', 'size-budget.json'), 'utf8'));

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
if (total > budget) {
  console.error(`size budget exceeded by ${total - budget} B: shrink the build, or raise bench/size-budget.json on purpose`);
  process.exit(1);
}
