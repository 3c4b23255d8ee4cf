// Build step: shortens the names that the .wasm and its wasm-bindgen glue use for each
// other. wasm-bindgen names every import `__wbg_<name>_<16 hex digits>` and every export
// after its Rust path; both are spelled out twice in the download (in the .wasm's import
// and export sections and in the glue's import object and `wasm.<name>` calls). This
// renames them to one- or two-letter names in both files, consistently.
//
// The modules that the .wasm imports from directly (the `js/` snippets, under a hashed
// directory) get one-letter module names the same way.
//
// binaryen's --minify-imports-and-exports only renames imports from `env`, so this walks
// the module itself: only the import (2) and export (7) sections are rewritten; every other
// section is copied byte for byte.
//
//   node scripts/minify-names.mjs dist/tokenward_bg.wasm dist/tokenward.js
import { readFileSync, writeFileSync } from 'node:fs';
import { Reader } from './wasm-reader.mjs';

function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f; n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}
const encName = (s) => { const b = Buffer.from(s, 'utf8'); return Buffer.concat([leb(b.length), b]); };

// Skips an import descriptor (function, table, memory, global or tag) and returns its bytes.
function importDesc(r) {
  const start = r.p;
  const kind = r.byte();
  const limits = () => { const flags = r.byte(); r.u32(); if (flags & 1) r.u32(); };
  if (kind === 0x00) r.u32();
  else if (kind === 0x01) { r.byte(); limits(); }
  else if (kind === 0x02) limits();
  else if (kind === 0x03) { r.byte(); r.byte(); }
  else if (kind === 0x04) { r.byte(); r.u32(); }
  else throw new Error(`minify-names: unknown import kind ${kind}`);
  return r.b.subarray(start, r.p);
}

// a, b, …, z, A, …, Z, then two characters, and so on; never a name already in use.
function* shortNames(avoid) {
  const first = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$_';
  const rest = `${first}0123456789`;
  for (let len = 1; ; len++) {
    const idx = new Array(len).fill(0);
    for (;;) {
      const name = idx.map((v, i) => (i === 0 ? first : rest)[v]).join('');
      if (!avoid.has(name)) yield name;
      let k = len - 1;
      while (k >= 0 && ++idx[k] === (k === 0 ? first : rest).length) { idx[k] = 0; k--; }
      if (k < 0) break;
    }
  }
}

export function minify(wasmBytes, glue) {
  const r = new Reader(wasmBytes, 8);
  const parts = [wasmBytes.subarray(0, 8)];
  const importMap = new Map();
  const exportMap = new Map();
  const names = shortNames(new Set(['__proto__', 'memory']));
  let importModule = null;
  const moduleMap = new Map();
  const moduleNames = shortNames(new Set(['w']));
  while (r.p < wasmBytes.length) {
    const id = r.byte();
    const size = r.u32();
    const body = new Reader(r.bytes(size));
    if (id === 2) {
      const count = body.u32();
      const out = [leb(count)];
      for (let i = 0; i < count; i++) {
        const module = body.name();
        const field = body.name();
        const desc = importDesc(body);
        let short = field;
        if (module === './tokenward_bg.js') {
          importModule = module;
          if (!importMap.has(field)) importMap.set(field, names.next().value);
          short = importMap.get(field);
        }
        let mod = module;
        if (module === './tokenward_bg.js') mod = 'w';
        else if (module.startsWith('./snippets/')) {
          if (!moduleMap.has(module)) moduleMap.set(module, moduleNames.next().value);
          mod = moduleMap.get(module);
        }
        out.push(encName(mod), encName(short), desc);
      }
      const content = Buffer.concat(out);
      parts.push(Buffer.from([2]), leb(content.length), content);
    } else if (id === 7) {
      const count = body.u32();
      const out = [leb(count)];
      for (let i = 0; i < count; i++) {
        const field = body.name();
        const kind = body.byte();
        const index = body.u32();
        const short = names.next().value;
        exportMap.set(field, short);
        out.push(encName(short), Buffer.from([kind]), leb(index));
      }
      const content = Buffer.concat(out);
      parts.push(Buffer.from([7]), leb(content.length), content);
    } else {
      parts.push(Buffer.from([id]), leb(size), body.b);
    }
  }
  if (!importModule) throw new Error('minify-names: no import from ./tokenward_bg.js: has wasm-bindgen changed?');

  let js = glue;
  const replaceAll = (pattern, to, what) => {
    const before = js;
    js = js.replace(pattern, to);
    if (js === before) throw new Error(`minify-names: ${what} not found in the glue`);
  };
  const esc = (s) => s.replace(/[$]/g, '\\$&');
  for (const [long, short] of importMap) {
    replaceAll(new RegExp(`(^|[\\s,{])${esc(long)}(?=\\s*:)`, 'gm'), `$1${short}`, `import ${long}`);
  }
  replaceAll('"./tokenward_bg.js": import0', 'w: import0', 'the import module');
  for (const [long, short] of moduleMap) {
    replaceAll(new RegExp(`"${long.replace(/[.$]/g, '\\$&')}"(?=\\s*:)`, 'g'), short, `the import module ${long}`);
  }
  for (const [long, short] of exportMap) {
    const pattern = new RegExp(`\\bwasm\\.${esc(long)}(?![A-Za-z0-9_$])`, 'g');
    if (pattern.test(js)) js = js.replace(pattern, `wasm.${short}`);
  }
  const leftover = js.match(/\bwasm\.(__wbg_|__wbindgen_|wasmclient_)[A-Za-z0-9_]*/);
  if (leftover) throw new Error(`minify-names: ${leftover[0]} was not renamed`);
  return { wasm: Buffer.concat(parts), glue: js, imports: importMap.size, exports: exportMap.size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [wasmPath, gluePath] = process.argv.slice(2);
  const result = minify(readFileSync(wasmPath), readFileSync(gluePath, 'utf8'));
  writeFileSync(wasmPath, result.wasm);
  writeFileSync(gluePath, result.glue);
  console.log(`minify-names: ${result.imports} imports and ${result.exports} exports renamed`);
}
