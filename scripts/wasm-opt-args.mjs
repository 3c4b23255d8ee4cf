// The wasm-opt arguments the npm build uses, in one place: scripts/build.mjs runs them,
// bench/core-floor.mjs runs the same on the core alone, and scripts/order-functions.mjs
// writes its reordered file with the same features. DESIGN.md (Size) has what each pass
// saves.

/** The passes: --flatten --rereloop, then -Oz twice and --converge, after
 * --low-memory-unused (constant additions folded into load/store offsets). A function
 * with one caller is inlined into it only up to 30 expressions (binaryen's default: any
 * size): the .wasm is 1.9 KB larger raw but 895 B smaller gzipped once ordered (20: −770,
 * 25: −879, 40: −734, 50: −699; DESIGN.md, Size). */
export const PASSES = ['--low-memory-unused', '--flatten', '--rereloop', '--one-caller-inline-max-function-size', '30',
  '-Oz', '-Oz', '--converge'];

/** The wasm features the Rust output uses (wasm-opt refuses what is not enabled). */
export const FEATURES = ['--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
  '--enable-reference-types', '--enable-multivalue', '--enable-mutable-globals'];
