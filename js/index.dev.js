// Development entry (the "development" export condition): the .wasm bytes are inlined,
// because dev servers that pre-bundle dependencies (Vite 5–7) move this file away from
// the .wasm and then answer its URL with index.html. Production builds use index.js.
import init, { WasmClient } from './tokenward.js';
import { makeCreate } from './client.js';
import { wasmBytes } from './wasm-inline.js';

export { TokenwardError } from './client.js';
export const createTokenClient = makeCreate({ WasmClient }, () => init({ module_or_path: wasmBytes() }));
