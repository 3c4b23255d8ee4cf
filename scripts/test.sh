#!/usr/bin/env bash
# `npm test`: every test, on a fresh machine too. Installs what is missing (wasm target,
# the pinned wasm-bindgen CLI, Chromium + ChromeDriver from apt when root, npm packages),
# then runs, stopping at the first failure: rustfmt, clippy, native tests, browser tests,
# the build, the size budget, `npm pack` installed into a throw-away app, the type test
# (tsc --strict against the installed package), and the end-to-end tests against real
# authorization servers (oidc-provider, Django OAuth Toolkit) in headless Chromium.
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

step "set-up: toolchain and browsers"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  else
    echo "Chromium and ChromeDriver are missing and this is not root: install chromium chromium-driver" >&2
    exit 1
  fi
fi
# The two slow installs of a fresh machine (the wasm-bindgen CLI and, in engines.sh,
# geckodriver) are both `cargo install`s: run them side by side.
bindgen_pid=""
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  ( cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked \
      || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" ) &
  bindgen_pid=$!
fi
if [ -f scripts/engines.sh ]; then bash scripts/engines.sh; fi
if [ -n "$bindgen_pid" ] && ! wait "$bindgen_pid"; then
  echo "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION failed" >&2
  exit 1
fi
# tests/e2e/dot.test.mjs makes a Python venv for Django OAuth Toolkit on first use: it needs
# python3 with venv and ensurepip (Debian: python3-venv); without them it falls back to
# `pip install --user virtualenv`.
if command -v python3 >/dev/null && ! python3 -c 'import venv, ensurepip' 2>/dev/null && [ "$(id -u)" = 0 ] \
  && command -v apt-get >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv || true
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "rustfmt"
cargo fmt --check

step "clippy (native and wasm32)"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings

step "native tests (core)"
cargo test

step "browser tests (wasm-bindgen-test)"
if [ -f scripts/browser-tests.sh ]; then
  bash scripts/browser-tests.sh
else
  cargo test --target wasm32-unknown-unknown
fi

step "build (npm run build)"
npm run build

if [ -f bench/size-budget.mjs ]; then
  step "size budget"
  node bench/size-budget.mjs
fi

step "npm pack, installed into a throw-away app"
app=$(mktemp -d)/app
app_tmp=$(dirname "$app")
node -e "import('./tests/e2e/harness.mjs').then((h) => h.prepareApp(process.argv[1]))" "$app"
export TOKENWARD_APP_DIR="$app"

step "type test (tsc --strict)"
node tests/types/run.mjs "$app"

step "end-to-end tests (node:test + playwright-core)"
e2e_log=$(mktemp)
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/*.test.mjs 2>&1 | tee "$e2e_log"
