#!/usr/bin/env bash
# `npm test`: every test, on a fresh machine too. Installs what is missing (wasm target,
# the pinned wasm-bindgen CLI, Chromium + ChromeDriver, Firefox ESR + geckodriver, WebKitGTK
# from apt when root, npm packages), then runs, stopping at the first failure: rustfmt,
# clippy, rustdoc, native tests, the build, the size budget, the core alone's build
# (bench/core-floor), `npm pack` installed into a throw-away app, the type test (tsc
# --strict against the installed package), then the browser tests
# (wasm-bindgen-test in three engines) beside the end-to-end tests against real
# authorization servers (oidc-provider, Django OAuth Toolkit), both always run to the end.
# Prints each step's time at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Step times, printed at the end (also when a step fails).
step_names=()
step_starts=()
t0=$(date +%s)
step() {
  step_names+=("$*")
  step_starts+=("$(date +%s)")
  printf '\n==> %s\n' "$*"
}
print_times() {
  local rc=$? end i next
  end=$(date +%s)
  if [ -n "${app_tmp:-}" ]; then rm -rf "$app_tmp"; fi
  printf '\n==> step times\n'
  for i in "${!step_names[@]}"; do
    next=${step_starts[$((i + 1))]:-$end}
    printf '  %5ss  %s\n' "$((next - step_starts[i]))" "${step_names[$i]}"
  done
  printf '  %5ss  total (exit %s)\n' "$((end - t0))" "$rc"
  # The end-to-end runner's counts again, as the last line.
  if [ -n "${e2e_log:-}" ] && [ -f "$e2e_log" ]; then
    local pass fail
    pass=$(grep -E '^ℹ pass [0-9]+' "$e2e_log" | tail -1 | awk '{print $3}')
    fail=$(grep -E '^ℹ fail [0-9]+' "$e2e_log" | tail -1 | awk '{print $3}')
    rm -f "$e2e_log"
    [ -n "$pass" ] && printf 'e2e: %s passed, %s failed\n' "$pass" "${fail:-0}"
  fi
  return "$rc"
}
trap print_times EXIT
WASM_BINDGEN_VERSION=0.2.130
export PATH="$HOME/.cargo/bin:$PATH"
# What outlives a clone (and is keyed by its inputs, so reusing it is safe): cargo's build
# directory (cargo rebuilds whatever changed: a fresh clone's sources always count as
# changed, the compiled dependencies are reused), the Vite/React apps' npm installs and the
# Django OAuth Toolkit venv (tests/e2e). CARGO_TARGET_DIR / TOKENWARD_CACHE override them.
cache=${TOKENWARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenward}
export TOKENWARD_CACHE="$cache"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
mkdir -p "$CARGO_TARGET_DIR"
# Cargo rebuilds by the sources' times, not by which checkout they are in: a checkout whose
# files are older than another checkout's last build would reuse that build (another
# commit's code, and a .wasm that names the other checkout, where wasm-bindgen then looks
# for package.json). So when another checkout built last, this crate's own artifacts (not
# its dependencies') are dropped, in both target directories (the core-floor bench's crate
# has the same name).
here=$(pwd -P)
for dir in "$CARGO_TARGET_DIR" "$cache/core-floor-target"; do
  mark="$dir/.tokenward-checkout"
  if [ -d "$dir" ] && [ "$(cat "$mark" 2>/dev/null)" != "$here" ]; then
    for args in "" "--release" "--target wasm32-unknown-unknown" "--release --target wasm32-unknown-unknown"; do
      # shellcheck disable=SC2086 # $args is several words
      cargo clean --quiet -p tokenward --target-dir "$dir" $args
    done
  fi
  mkdir -p "$dir" && printf '%s\n' "$here" > "$mark"
done

step "set-up: toolchain and browsers"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
# Every Debian package the tests use, in one apt-get: Chromium + ChromeDriver (required),
# Firefox ESR, WebKitGTK's MiniBrowser + WebKitWebDriver + Xvfb (scripts/engines.sh reports
# an engine it could not install as skipped) and python3-venv (Django OAuth Toolkit's venv).
want=()
command -v chromium >/dev/null || want+=(chromium)
command -v chromedriver >/dev/null || want+=(chromium-driver)
[ -x /usr/bin/firefox-esr ] || want+=(firefox-esr)
ls /usr/lib/*/webkit2gtk-4.1/MiniBrowser >/dev/null 2>&1 || want+=(libwebkit2gtk-4.1-0)
[ -x /usr/bin/WebKitWebDriver ] || want+=(webkit2gtk-driver)
{ [ -x /usr/bin/Xvfb ] && [ -x /usr/bin/xvfb-run ]; } || want+=(xvfb)
if command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then want+=(python3-venv); fi
if [ "${#want[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null \
      || echo "apt-get install ${want[*]} failed: scripts/engines.sh says what is missing" >&2
  fi
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "Chromium and ChromeDriver are missing (not root, or apt-get failed): install chromium chromium-driver" >&2
    exit 1
  fi
fi
# The two slow installs of a fresh machine are both `cargo install`s, run side by side: the
# wasm-bindgen CLI (without its default features: they only add TLS for downloading
# drivers, which tokenward never lets it do) and, in engines.sh, geckodriver.
bindgen_pid=""
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  ( env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" \
      --no-default-features --bin wasm-bindgen --bin wasm-bindgen-test-runner --quiet ) &
  bindgen_pid=$!
fi
npm_pid=""
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund &
  npm_pid=$!
fi
if [ -f scripts/engines.sh ]; then env -u CARGO_TARGET_DIR bash scripts/engines.sh; fi
if [ -n "$bindgen_pid" ] && ! wait "$bindgen_pid"; then
  echo "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION failed" >&2
  exit 1
fi
if [ -n "$npm_pid" ] && ! wait "$npm_pid"; then
  echo "npm ci failed" >&2
  exit 1
fi

step "rustfmt, and no source file over 500 lines"
cargo fmt --check
# One concept per file, tests counted (the unit tests live beside the code): a source file
# of the library, its scripts, tests or benchmarks that grows past 500 lines is split.
long=$(find src js scripts tests bench \( -name node_modules -o -name .cache -o -name results -o -name .venv \) -prune \
  -o -type f \( -name '*.rs' -o -name '*.js' -o -name '*.mjs' -o -name '*.sh' -o -name '*.ts' -o -name '*.tsx' -o -name '*.py' \) -print \
  | xargs wc -l | awk '$2 != "total" && $1 > 500')
if [ -n "$long" ]; then
  printf 'source files over 500 lines (split them):\n%s\n' "$long" >&2
  exit 1
fi

step "clippy (native and wasm32), and rustdoc"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
# The npm build: no std (`--no-default-features`).
cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
# The doc comments' links resolve, for Rust users and for the npm build's own items.
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet --target wasm32-unknown-unknown --no-default-features

step "native tests (core)"
cargo test

step "build (npm run build; the browser tests compiled)"
npm run build
# Compiled now, run below beside the end-to-end tests.
cargo test --target wasm32-unknown-unknown --no-run --quiet

if [ -f bench/size-budget.mjs ]; then
  step "size budget"
  node bench/size-budget.mjs
fi

# The core alone, as bench/core-floor.mjs measures it (its figure is printed, not judged):
# built here so that a change to the core's API cannot break the bench unseen. Its own
# target directory: the crate it builds has the same name as this one.
step "the core alone builds (bench/core-floor.mjs)"
CARGO_TARGET_DIR="$cache/core-floor-target" node bench/core-floor.mjs

step "npm pack, installed into a throw-away app"
app=$(mktemp -d)/app
app_tmp=$(dirname "$app")
node -e "import('./tests/e2e/harness.mjs').then((h) => h.prepareApp(process.argv[1]))" "$app"
export TOKENWARD_APP_DIR="$app"

step "type test (tsc --strict)"
node tests/types/run.mjs "$app"

# The browser tests (a browser at a time, mostly waiting for it) run beside the end-to-end
# files; each prints whole when it ends. Both always run; either failing fails the step.
step "browser tests (wasm-bindgen-test) and end-to-end tests (node:test + playwright-core)"
e2e_log=$(mktemp)
browser_log=$(mktemp)
bash scripts/browser-tests.sh >"$browser_log" 2>&1 &
browser_pid=$!
e2e_rc=0
node scripts/e2e.mjs 2>&1 | tee "$e2e_log" || e2e_rc=$?
browser_rc=0
wait "$browser_pid" || browser_rc=$?
printf '\n==> browser tests (wasm-bindgen-test), run beside the end-to-end tests\n'
cat "$browser_log"
rm -f "$browser_log"
[ "$browser_rc" = 0 ] || echo "browser tests FAILED" >&2
[ "$e2e_rc" = 0 ] || echo "end-to-end tests FAILED" >&2
[ "$browser_rc" = 0 ] && [ "$e2e_rc" = 0 ]
