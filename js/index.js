// Production entry: the .wasm ships as a file next to this one, found with a literal
// `new URL(…, import.meta.url)` that bundlers (Vite, webpack, esbuild) understand and that
// lets the browser compile it while it streams.
import init, { WasmClient } from './tokenward.js';
import { makeCreate } from './client.js';

export { TokenwardError } from './client.js';
export const createTokenClient = makeCreate({ WasmClient }, () =>
  init({ module_or_path: new URL('./tokenward_bg.wasm', import.meta.url) }),
);
