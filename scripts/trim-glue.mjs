// `node scripts/trim-glue.mjs dist/tokenward.js`: drops what wasm-bindgen's glue carries
// for callers and browsers tokenward does not have (113 B gzip for an app, with the
// first step below; DESIGN.md, Size). Run after scripts/minify-names.mjs. Each edit must
// find its text, or the build stops: a new wasm-bindgen version is then looked at, not
// silently half-trimmed.
//
// - `init()`'s branch for its deprecated positional argument, with its console warning:
//   both entries (`index.js`, `index.dev.js`) pass `{ module_or_path }`.
// - The `TextEncoder.encodeInto` polyfill: every engine that has Web Locks and
//   BroadcastChannel, which tokenward needs, has `encodeInto`.
// - `passStringToWasm0`'s branch for a caller without `realloc`: every call passes one
//   (checked).
// - The import object's repeated keys: after minify-names every import from one snippet
//   module sits under one letter, listed once per `import * as importN` wasm-bindgen
//   wrote, all the same module namespace; the first of each stays.
import { readFileSync, writeFileSync } from 'node:fs';

/** The glue `js`, trimmed. Throws when an expected text is missing. */
export function trim(js) {
  const cut = (from, to, what) => {
    if (!js.includes(from)) throw new Error(`trim-glue: ${what} not found in the glue: has wasm-bindgen changed?`);
    js = js.replace(from, to);
  };
  cut(`    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }
`, `    if (module_or_path !== undefined) ({module_or_path} = module_or_path);
`, "init()'s deprecated-argument branch");
  cut(`if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`, '', 'the encodeInto polyfill');
  // Every string crosses with wasm-bindgen's realloc (`passStringToWasm0(s, malloc,
  // realloc)`): the branch for a caller without one is never taken.
  const calls = js.match(/passStringToWasm0\([^)]*\)/g) ?? [];
  if (calls.length < 2 || !calls.every((c) => /^passStringToWasm0\(\w+, (wasm\.\w+, wasm\.\w+|malloc, realloc)\)$/.test(c))) {
    throw new Error('trim-glue: a string passed without realloc: has wasm-bindgen changed?');
  }
  cut(`    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

`, '', "passStringToWasm0's branch without realloc");
  const seen = new Map();
  const before = js;
  js = js.replace(/^ {8}([a-z]+): (import\d+),\n/gm, (line, key, value) => {
    if (!seen.has(key)) {
      seen.set(key, value);
      return line;
    }
    return '';
  });
  if (js === before) throw new Error('trim-glue: no repeated import module keys: has minify-names or wasm-bindgen changed?');
  return js;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [gluePath] = process.argv.slice(2);
  const glue = readFileSync(gluePath, 'utf8');
  const trimmed = trim(glue);
  writeFileSync(gluePath, trimmed);
  console.log(`trim-glue: ${glue.length - trimmed.length} characters dropped`);
}
