// The core alone: `src/core/` compiled to wasm32 as the npm build compiles the crate
// (release profile, no std, lol_alloc, the same wasm-opt passes and function order), with
// no wasm-bindgen, no web-sys and no shell, every public decision kept alive by
// `bench/core-floor/harness/`. About what the `.wasm` would weigh with the browser work
// done in JavaScript; somewhat more, since the harness keeps every decision and state
// reachable and is counted too. Prints raw and gzip -9 bytes.
//
//   node bench/core-floor.mjs            (CARGO_TARGET_DIR defaults to a temporary one)
//
// Run by `npm run bench` (its size section), and by `npm test` so that a change to the
// core's API cannot break it unseen (built there in a target directory of its own).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { releaseEnv } from '../scripts/release-env.mjs';
import { FEATURES, PASSES } from '../scripts/wasm-opt-args.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'tokenward-core-floor-'));
const target = process.env.CARGO_TARGET_DIR || join(tmpdir(), 'tokenward-core-floor-target');

try {
  // The crate without its shell and bindings, and without the dependencies only they use.
  mkdirSync(join(work, 'src'));
  cpSync(join(root, 'src', 'core'), join(work, 'src', 'core'), { recursive: true });
  cpSync(join(root, 'src', 'local.rs'), join(work, 'src', 'local.rs'));
  // `#[no_mangle]` counts as unsafe code, which the crate denies.
  cpSync(join(root, 'bench', 'core-floor', 'harness'), join(work, 'src', 'harness'), { recursive: true });
  const harness = join(work, 'src', 'harness', 'mod.rs');
  writeFileSync(harness, `#![allow(unsafe_code, dead_code, missing_docs)]\n${readFileSync(harness, 'utf8')}`);
  const lib = readFileSync(join(root, 'src', 'lib.rs'), 'utf8')
    .split('\n')
    .filter((line) => !/^pub mod browser;|^mod bindings;|^pub use browser::|^#\[cfg\(target_arch = "wasm32"\)\]$/.test(line))
    // `crate::local` serves the shell only.
    .map((line) => (line === 'mod local;' ? '#[allow(unused)]\nmod local;' : line))
    .join('\n');
  writeFileSync(join(work, 'src', 'lib.rs'), `${lib}\nmod harness;\n`);
  // Cargo.toml by sections: no dependencies but the allocator, no dev-dependencies.
  const toml = readFileSync(join(root, 'Cargo.toml'), 'utf8')
    .split(/^(?=\[)/m)
    .filter((section) => !/^\[(dependencies|dev-dependencies|target\.'cfg\(not)/.test(section))
    .map((section) => section.replace(/^std = \[.*\]$/m, 'std = []'))
    .join('');
  writeFileSync(join(work, 'Cargo.toml'), toml);
  if (existsSync(join(root, 'Cargo.lock'))) cpSync(join(root, 'Cargo.lock'), join(work, 'Cargo.lock'));

  execFileSync(
    'cargo',
    ['build', '--release', '--lib', '--target', 'wasm32-unknown-unknown', '--no-default-features', '--quiet'],
    { cwd: work, stdio: 'inherit', env: { ...releaseEnv(work), CARGO_TARGET_DIR: target } },
  );
  const built = join(target, 'wasm32-unknown-unknown', 'release', 'tokenward.wasm');
  const wasm = join(work, 'core.wasm');
  // The passes of scripts/build.mjs, then its function order.
  execFileSync(join(root, 'node_modules', '.bin', 'wasm-opt'), [
    ...PASSES, '--strip-producers', '--strip-target-features', '--strip-debug', ...FEATURES, built, '-o', wasm,
  ], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts', 'order-functions.mjs'), wasm], { stdio: 'ignore' });
  const bytes = readFileSync(wasm);
  const gz = gzipSync(bytes, { level: 9 }).length;
  console.log(`core alone: ${bytes.length} B raw, ${gz} B gzip -9 (${(gz / 1024).toFixed(1)} KB)`);
  if (process.env.CORE_FLOOR_KEEP) {
    cpSync(wasm, process.env.CORE_FLOOR_KEEP);
    console.log(`kept at ${process.env.CORE_FLOOR_KEEP}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
