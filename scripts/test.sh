#!/usr/bin/env bash
# `npm test`: every test, on a fresh machine too. Installs what is missing (wasm target,
# the pinned wasm-bindgen CLI, Chromium + ChromeDriver from apt when root, npm packages),
# then runs, stopping at the first failure: rustfmt, clippy, native tests, browser tests,
# the build, the size budget, `npm pack` installed into a throw-away app, and the
# end-to-end tests against real authorization servers (oidc-provider, Django OAuth Toolkit)
# in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
WASM_BINDGEN_VERSION=0.2.130
export PATH="$HOME/.cargo/bin:$PATH"

step "set-up: toolchain and browsers"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked \
    || cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
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
if [ -f scripts/engines.sh ]; then bash scripts/engines.sh; fi
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
trap 'rm -rf "$(dirname "$app")"' EXIT
node -e "import('./tests/e2e/harness.mjs').then((h) => h.prepareApp(process.argv[1]))" "$app"
export TOKENWARD_APP_DIR="$app"

step "end-to-end tests (node:test + playwright-core)"
node --test --test-concurrency=1 --test-reporter=spec tests/e2e/*.test.mjs
