// `node scripts/trim-glue.mjs dist/tokenward.js`: drops what wasm-bindgen's glue carries
// for callers and browsers tokenward does not have (150 B gzip for an app when it came,
// 336 B more with its own loader; DESIGN.md, Size). Run after scripts/minify-names.mjs.
// Each edit must find its text, or the build stops: a new wasm-bindgen version is then
// looked at, not silently half-trimmed.
//
// - The `TextEncoder.encodeInto` polyfill: every engine that has Web Locks and
//   BroadcastChannel, which tokenward needs, has `encodeInto`.
// - `passStringToWasm0`'s branch for a caller without `realloc`: every call passes one
//   (checked).
// - The loader (see `loader` below), the `FinalizationRegistry` fallbacks and
//   `WasmClient.free`.
// - `getDataViewMemory0`'s `detached` test: the buffer comparison it falls back to
//   says the same in every engine.
// - The import object's repeated keys: after minify-names every import from one snippet
//   module sits under one letter, listed once per `import * as importN` wasm-bindgen
//   wrote, all the same module namespace; the first of each stays.
import { readFileSync, writeFileSync } from 'node:fs';

/** The glue `js`, trimmed. Throws when an expected text is missing. */
export function trim(js) {
  // `from`: a text, or a pattern (whose first match is replaced, `$1` and all).
  const cut = (from, to, what) => {
    const found = typeof from === 'string' ? js.includes(from) : from.test(js);
    if (!found) throw new Error(`trim-glue: ${what} not found in the glue: has wasm-bindgen changed?`);
    js = js.replace(from, to);
  };
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
  // `FinalizationRegistry` is in every engine that has `Object.hasOwn`, which
  // `js/client.js` needs (Chrome 93, Firefox 92, Safari 15.4).
  const noRegistry = `(typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : `;
  cut(noRegistry, '', 'the first FinalizationRegistry fallback');
  cut(noRegistry, '', 'the second FinalizationRegistry fallback');
  // The DataView's check for a grown memory: growing detaches the old buffer and gives
  // the memory a new one, so comparing the buffers says it in every engine, without the
  // `detached` test that engines with `ArrayBuffer.prototype.detached` take first.
  const view = /cachedDataViewMemory0 === null \|\| cachedDataViewMemory0\.buffer\.detached === true \|\| \(cachedDataViewMemory0\.buffer\.detached === undefined && (cachedDataViewMemory0\.buffer !== wasm\.\w+\.buffer)\)/;
  cut(view, 'cachedDataViewMemory0 === null || $1', 'the DataView check');
  js = loader(js);
  // `free()` and `[Symbol.dispose]`: `js/client.js` never frees its `WasmClient` by hand
  // (`dispose()` ends the client through `call`); the registry frees it once the page
  // drops it.
  const free = /^ {4}__destroy_into_raw\(\) \{\n(?: {8}.*\n)+ {4}\}\n {4}free\(\) \{\n(?: {8}.*\n)+ {4}\}\n/m;
  cut(free, '', 'WasmClient.free');
  cut('if (Symbol.dispose) WasmClient.prototype[Symbol.dispose] = WasmClient.prototype.free;\n', '', 'the Symbol.dispose alias');
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

/**
 * wasm-bindgen's loader (`__wbg_init`, `__wbg_load`, `initSync`) replaced by one for the
 * two ways tokenward's entries call it: `index.js` with `{ module_or_path: URL }` (the
 * `.wasm` fetched and compiled while it streams), `index.dev.js` with the bytes.
 * `js/client.js`'s `makeCreate` calls it once, and again only after it failed, so the
 * glue's own promise cache, its branches for strings, `Request`s and modules, and
 * `initSync` (which no entry imports) go. The start function's name is read from the
 * glue's `__wbg_finalize_init`.
 */
function loader(js) {
  const at = js.indexOf('let wasmModule, wasmInstance, wasm;\n');
  const tail = js.slice(at);
  const start = /^function __wbg_finalize_init\(instance, module\) \{\n {4}wasmInstance = instance;\n {4}wasm = instance\.exports;\n {4}wasmModule = module;\n {4}cachedDataViewMemory0 = null;\n {4}cachedUint8ArrayMemory0 = null;\n {4}wasm\.(\w+)\(\);\n {4}return wasm;\n\}$/m.exec(tail);
  const parts = ['async function __wbg_load(module, imports)', 'function initSync(module)', 'async function __wbg_init_once(module_or_path)'];
  if (at < 0 || !start || !parts.every((p) => tail.includes(p)) || !tail.endsWith('export { initSync, __wbg_init as default };\n')) {
    throw new Error("trim-glue: wasm-bindgen's loader not as expected: has wasm-bindgen changed?");
  }
  if (/\bwasm(Module|Instance)\b/.test(js.slice(0, at))) throw new Error('trim-glue: the glue reads wasmModule or wasmInstance: has wasm-bindgen changed?');
  return `${js.slice(0, at)}let wasm;
// The loader (scripts/trim-glue.mjs): \`source\` is the .wasm's URL or its bytes.
export default async function __wbg_init({ module_or_path: source }) {
    const imports = __wbg_get_imports();
    let loaded;
    if (source instanceof URL) {
        const response = await fetch(source);
        if (!response.ok) throw new Error(\`failed to fetch Wasm: \${response.status} \${response.statusText} fetching '\${response.url}'\`);
        try {
            loaded = await WebAssembly.instantiateStreaming(response, imports);
        } catch (e) {
            // Compiling while it streams needs the \`application/wasm\` type.
            if (response.headers.get('Content-Type') === 'application/wasm') throw e;
            console.warn('tokenward: the .wasm is not served as application/wasm, so it is compiled after it is downloaded:', e);
            loaded = await WebAssembly.instantiate(await response.arrayBuffer(), imports);
        }
    } else {
        loaded = await WebAssembly.instantiate(source, imports);
    }
    wasm = loaded.instance.exports;
    cachedDataViewMemory0 = null;
    cachedUint8ArrayMemory0 = null;
    wasm.${start[1]}();
    return wasm;
}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [gluePath] = process.argv.slice(2);
  const glue = readFileSync(gluePath, 'utf8');
  const trimmed = trim(glue);
  writeFileSync(gluePath, trimmed);
  console.log(`trim-glue: ${glue.length - trimmed.length} characters dropped`);
}
