#!/usr/bin/env bash
# The browser tests (tests/browser.rs, wasm-bindgen-test) once per engine:
#   Chromium  chromedriver (required: scripts/test.sh installs it)
#   Firefox   GECKODRIVER=/opt/tokenward-tools/bin/geckodriver (headless)
#   WebKit    SAFARIDRIVER=/usr/bin/WebKitWebDriver under xvfb-run (MiniBrowser)
# Each pass names its driver explicitly and unsets the others, and its output must say it
# ran in that browser. Firefox/WebKit are SKIPPED with the reason only when scripts/engines.sh
# could not install them (or TOKENWARD_ENGINES leaves them out); with
# TOKENWARD_REQUIRE_ENGINES=1 a skip is a failure. Exits non-zero if any pass failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

TOOLS=${TOKENWARD_TOOLS:-/opt/tokenward-tools}
GECKODRIVER_BIN="$TOOLS/bin/geckodriver"
STATUS_FILE=target/tokenward-engines.status
selected=",${TOKENWARD_ENGINES_BROWSER:-chromium,firefox,webkit},"
summary=()
failed=0

why_missing() { # engine what-is-missing
  local line=""
  [ -f "$STATUS_FILE" ] && line=$(grep "^$1: " "$STATUS_FILE" | head -1)
  if [ -n "$line" ]; then echo "$2 missing ($line)"; else echo "$2 missing (run scripts/engines.sh as root to install it)"; fi
}

skip() { # title reason
  summary+=("$1: SKIPPED: $2")
  printf '\n--- browser tests in %s: SKIPPED: %s\n' "$1" "$2"
  if [ "${TOKENWARD_REQUIRE_ENGINES:-}" = 1 ]; then failed=1; fi
}

run_pass() { # title banner version command...
  local title=$1 banner=$2 version=$3
  shift 3
  printf '\n--- browser tests in %s (%s)\n' "$title" "$version"
  local log
  log=$(mktemp)
  env -u GECKODRIVER -u SAFARIDRIVER -u CHROMEDRIVER -u MSEDGEDRIVER "$@" \
    cargo test --target wasm32-unknown-unknown 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local passed failed_n
  passed=$(grep -o 'test result: [A-Za-z]*\. [0-9]* passed' "$log" | awk '{s += $4} END {print s + 0}')
  failed_n=$(grep -o '; [0-9]* failed' "$log" | awk '{s += $2} END {print s + 0}')
  if ! grep -q "Running headless tests in $banner" "$log" && ! grep -q "Running tests in $banner" "$log"; then
    summary+=("$title ($version): FAILED: the runner did not run in $banner")
    failed=1
  elif [ "$rc" != 0 ]; then
    summary+=("$title ($version): FAILED: $passed passed, $failed_n failed (exit $rc)")
    failed=1
  elif [ "$passed" = 0 ]; then
    summary+=("$title ($version): FAILED: no test ran")
    failed=1
  else
    summary+=("$title ($version): ok: $passed passed, $failed_n failed")
  fi
  rm -f "$log"
}

# Compile once (the passes below then only run the runner).
cargo test --target wasm32-unknown-unknown --no-run || exit 1

if [[ $selected == *,chromium,* ]]; then
  if command -v chromedriver >/dev/null && command -v chromium >/dev/null; then
    run_pass Chromium Chrome "$(chromium --version 2>/dev/null | head -1 | awk '{print $1, $2}')" \
      CHROMEDRIVER="$(command -v chromedriver)"
  else
    summary+=("Chromium: FAILED: chromium/chromedriver missing (scripts/test.sh installs them)")
    failed=1
  fi
fi

if [[ $selected == *,firefox,* ]]; then
  if [ -x /usr/bin/firefox-esr ] && [ -x "$GECKODRIVER_BIN" ]; then
    run_pass Firefox Firefox "$(/usr/bin/firefox-esr --version 2>/dev/null), $("$GECKODRIVER_BIN" --version | sed -n 1p)" \
      GECKODRIVER="$GECKODRIVER_BIN"
  else
    skip Firefox "$(why_missing firefox 'firefox-esr or geckodriver')"
  fi
else
  skip Firefox "not in TOKENWARD_ENGINES_BROWSER"
fi

if [[ $selected == *,webkit,* ]]; then
  if [ -x /usr/bin/WebKitWebDriver ] && command -v xvfb-run >/dev/null \
    && ls /usr/lib/*/webkit2gtk-4.1/MiniBrowser >/dev/null 2>&1; then
    run_pass WebKit Safari "WebKitGTK $(dpkg-query -W -f '${Version}' libwebkit2gtk-4.1-0 2>/dev/null)" \
      SAFARIDRIVER=/usr/bin/WebKitWebDriver xvfb-run -a
  else
    skip WebKit "$(why_missing webkit 'WebKitWebDriver, MiniBrowser or xvfb-run')"
  fi
else
  skip WebKit "not in TOKENWARD_ENGINES_BROWSER"
fi

printf '\n=== browser tests per engine\n'
printf '  %s\n' "${summary[@]}"
exit "$failed"
