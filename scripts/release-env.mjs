// The environment of the npm build's `cargo build`: the caller's, with the dependencies'
// source paths remapped (`--remap-path-prefix`), so that the `.wasm`'s few location
// records name `crates/<crate>-<version>/…` instead of the builder's home directory and
// registry (38 B gzip smaller too). The dependencies are fetched first, so that their
// directories exist to be named on a fresh machine. LLVM's inliner also counts a call as
// costing 40 instead of its default 25 (361 B gzip smaller; DESIGN.md, Size), when this
// rustc's LLVM has that option (otherwise the build goes on without it, and says so).
// Used by scripts/build.mjs and bench/core-floor.mjs.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `process.env` plus the remapping flags, for a cargo build run in `cwd`. */
export function releaseEnv(cwd) {
  execFileSync('cargo', ['fetch', '--quiet', '--target', 'wasm32-unknown-unknown'], { cwd, stdio: 'inherit' });
  const cargoHome = process.env.CARGO_HOME || join(homedir(), '.cargo');
  const sources = join(cargoHome, 'registry', 'src');
  // rustc uses the last prefix that matches: the whole registry first, each index after.
  const flags = [`--remap-path-prefix=${sources}=crates`];
  let indexes = [];
  try {
    indexes = readdirSync(sources);
  } catch {
    // No registry: nothing to remap.
  }
  for (const index of indexes.sort()) flags.push(`--remap-path-prefix=${join(sources, index)}=crates`);
  flags.push(`--remap-path-prefix=${join(cargoHome, 'git', 'checkouts')}=crates`);
  if (llvmKnows(CALL_PENALTY, cwd)) flags.push(CALL_PENALTY);
  else console.warn(`release-env: this rustc's LLVM has no ${CALL_PENALTY}: built without it (larger)`);
  const given = process.env.RUSTFLAGS ? `${process.env.RUSTFLAGS} ` : '';
  return { ...process.env, RUSTFLAGS: given + flags.join(' ') };
}

const CALL_PENALTY = '-Cllvm-args=-inline-call-penalty=40';

// Whether the rustc cargo runs in `cwd` accepts `flag` (it checks `-C llvm-args` before
// it prints anything).
function llvmKnows(flag, cwd) {
  try {
    execFileSync(process.env.RUSTC || 'rustc', [flag, '--print', 'sysroot'], { cwd, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
