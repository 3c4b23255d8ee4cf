// `node scripts/stub-dead.mjs dist/tokenward_bg.wasm`: replaces with `unreachable` the
// bodies of functions that are never run but that the function table keeps, before
// wasm-opt runs (DESIGN.md, Size): wasm-opt keeps every table entry, and what it calls.
// Run on wasm-bindgen's output, which still has the name section.
//
// js-sys links its JSPI task machinery (`js_sys::futures::jspi`): the `__wbg_jspi_task_poll`
// export polls a task, and polling makes a `Waker` from a static vtable of four functions.
// A module without JSPI exports gets that export deleted by the wasm-bindgen CLI, so no task
// is ever polled and no such `Waker` is ever made; but the vtable stays in the data segment
// (wasm-opt does not remove data) and keeps its four functions, and what they call, in the
// function table: 1.4 KB raw before wasm-opt. The stubs keep their table slots.
//
// wasm-bindgen's closure shims (`wasm_bindgen::convert::closures::_::invoke::…`): JS calls a
// `Closure` through the one shim the CLI exports for its signature; the module keeps one
// shim per closure wrapper type that its descriptors named, and the CLI, once it has read
// the descriptors, leaves in the table those it did not blank (five, 0.5 KB raw). A shim
// that is neither exported nor called is never run: the function table is not exported,
// and Rust code never calls a shim through it.
//
// The JSPI stub is only written when the export is gone; when a name is not found (a new
// js-sys) the build stops, so that a changed js-sys is looked at, not silently left as it
// was.
//
// With KEEP_NAMES=1 the output keeps the name section, for profiling a build by hand
// (wasm-bindgen --keep-debug, this, then wasm-opt -g, then twiggy).
import binaryen from 'binaryen';
import { readFileSync, writeFileSync } from 'node:fs';

/** Names of the functions stubbed: every function whose name starts with one of these. */
const DEAD = ['js_sys::futures::jspi::task_waker::raw_'];
/** Closure shims, stubbed when neither exported nor called. */
const SHIMS = 'wasm_bindgen::convert::closures::_::invoke::';
/** The export whose absence makes them dead. */
const ROOT = '__wbg_jspi_task_poll';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/stub-dead.mjs file.wasm');
  process.exit(2);
}
const m = binaryen.readBinary(readFileSync(file));
const F = binaryen.Features;
m.setFeatures(F.MVP | F.BulkMemory | F.NontrappingFPToInt | F.SignExt | F.ReferenceTypes | F.Multivalue | F.MutableGlobals);
// What is exported or called directly, by name (binaryen's text names every callee).
const used = new Set();
let jspi = true;
for (let i = 0; i < m.getNumExports(); i += 1) {
  const e = binaryen.getExportInfo(m.getExportByIndex(i));
  if (e.name === ROOT) jspi = false;
  if (e.kind === binaryen.ExternalFunction) used.add(e.value);
}
for (const c of m.emitText().matchAll(/\((?:call|return_call|ref\.func) \$("(?:[^"\\]|\\.)*"|[^\s()]+)/g)) {
  used.add(c[1].startsWith('"') ? c[1].slice(1, -1).replace(/\\(["\\])/g, '$1') : c[1]);
}
let waker = 0;
let shims = 0;
let kept = 0;
for (let i = m.getNumFunctions() - 1; i >= 0; i -= 1) {
  const f = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
  if (f.module !== '') continue;
  const dead = jspi && DEAD.some((p) => f.name.startsWith(p));
  const shim = f.name.startsWith(SHIMS) && !used.has(f.name);
  if (f.name.startsWith(SHIMS) && !shim) kept += 1;
  if (!dead && !shim) continue;
  m.removeFunction(f.name);
  m.addFunction(f.name, f.params, f.results, [], m.unreachable());
  if (dead) waker += 1;
  else shims += 1;
}
if (jspi && waker !== 4) {
  console.error(`stub-dead: expected the 4 JSPI waker functions, found ${waker}: has js-sys changed?`);
  process.exit(1);
}
// The page's one closure type is called through a shim: none found used means the names
// were not read right, and stubbing them all would break every callback.
if (kept === 0) {
  console.error('stub-dead: no closure shim is exported or called: has wasm-bindgen changed?');
  process.exit(1);
}
if (process.env.KEEP_NAMES) binaryen.setDebugInfo(true);
writeFileSync(file, m.emitBinary());
m.dispose();
console.log(`stub-dead: the JSPI waker's ${waker} functions and ${shims} closure shims stubbed (${kept} kept)`);
