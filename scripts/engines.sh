#!/usr/bin/env bash
# Installs the browser engines beyond Chromium that the tests run in, when missing:
#   Firefox: Debian's firefox-esr + geckodriver (cargo install, into /opt/tokenward-tools/bin,
#            deliberately NOT on PATH: wasm-bindgen-test-runner takes a geckodriver from
#            PATH before chromedriver and would run the Chromium pass in Firefox);
#   WebKit:  Debian's libwebkit2gtk-4.1-0 (MiniBrowser) + webkit2gtk-driver (WebKitWebDriver)
#            + xvfb (MiniBrowser has no headless mode).
# Idempotent and quiet when everything is there. Needs root to install; an engine that cannot
# be installed (not root, apt-get or cargo failed) is reported as skipped with the reason,
# here and in target/tokenward-engines.status, which the test runners print when they skip it.
# Exits 0 then, unless TOKENWARD_REQUIRE_ENGINES=1. Exports nothing.
set -uo pipefail
cd "$(dirname "$0")/.."

TOOLS=${TOKENWARD_TOOLS:-/opt/tokenward-tools}
GECKODRIVER_BIN="$TOOLS/bin/geckodriver"
MINIBROWSER=""
for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu; do
  [ -x "$dir/webkit2gtk-4.1/MiniBrowser" ] && MINIBROWSER="$dir/webkit2gtk-4.1/MiniBrowser"
done
STATUS_FILE=target/tokenward-engines.status
mkdir -p target
: >"$STATUS_FILE"
CARGO_BIN_DIR="$HOME/.cargo/bin"

say() { printf 'engines: %s\n' "$*"; }
reason=""
apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then reason="not root: cannot apt-get install $*"; return 1; fi
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    if ! apt-get update -qq; then reason="apt-get update failed"; return 1; fi
    apt_updated=1
  fi
  say "apt-get install $*"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; then
    reason="apt-get install $* failed"
    return 1
  fi
}

record() { # engine ok|skipped text
  printf '%s: %s: %s\n' "$1" "$2" "$3" >>"$STATUS_FILE"
  say "$1: $2: $3"
}

skipped=0

# ---- Firefox --------------------------------------------------------------------------
firefox_ok=1
reason=""
missing=()
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
if [ "${#missing[@]}" -gt 0 ] && ! apt_install "${missing[@]}"; then firefox_ok=0; fi
if [ "$firefox_ok" = 1 ] && [ ! -x "$GECKODRIVER_BIN" ]; then
  say "cargo install geckodriver --locked --root $TOOLS (a few minutes)"
  # opt-level 1, no debug info: geckodriver only relays WebDriver commands, and it compiles
  # beside the wasm-bindgen CLI on a fresh machine (scripts/test.sh).
  if ! PATH="$CARGO_BIN_DIR:$PATH" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install geckodriver --locked --root "$TOOLS" --quiet; then
    reason="cargo install geckodriver --locked --root $TOOLS failed"
    firefox_ok=0
  fi
fi
if [ "$firefox_ok" = 1 ]; then
  record firefox ok "$(/usr/bin/firefox-esr --version 2>/dev/null), $("$GECKODRIVER_BIN" --version 2>/dev/null | head -1) at $GECKODRIVER_BIN"
else
  record firefox skipped "$reason"
  skipped=1
fi

# ---- WebKit ---------------------------------------------------------------------------
webkit_ok=1
reason=""
missing=()
[ -n "$MINIBROWSER" ] || missing+=(libwebkit2gtk-4.1-0)
[ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
{ [ -x /usr/bin/Xvfb ] && [ -x /usr/bin/xvfb-run ]; } || missing+=(xvfb)
if [ "${#missing[@]}" -gt 0 ]; then
  if apt_install "${missing[@]}"; then
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu; do
      [ -x "$dir/webkit2gtk-4.1/MiniBrowser" ] && MINIBROWSER="$dir/webkit2gtk-4.1/MiniBrowser"
    done
    [ -n "$MINIBROWSER" ] || { reason="MiniBrowser not found after installing libwebkit2gtk-4.1-0"; webkit_ok=0; }
  else
    webkit_ok=0
  fi
fi
if [ "$webkit_ok" = 1 ]; then
  record webkit ok "WebKitGTK $(dpkg-query -W -f '${Version}' libwebkit2gtk-4.1-0 2>/dev/null) (MiniBrowser $MINIBROWSER), /usr/bin/WebKitWebDriver, Xvfb"
else
  record webkit skipped "$reason"
  skipped=1
fi

if [ "$skipped" = 1 ] && [ "${TOKENWARD_REQUIRE_ENGINES:-}" = 1 ]; then
  say "TOKENWARD_REQUIRE_ENGINES=1 and an engine could not be installed"
  exit 1
fi
exit 0
