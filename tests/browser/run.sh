#!/usr/bin/env bash
# The browser tests: sockweave's browser build (npm/browser.mjs over the
# `--target web` wasm) in Debian's headless Chromium, driven by playwright-core
# (executablePath /usr/bin/chromium; no browser is ever downloaded).
#
#   tests/browser/run.sh              every part: build tests screenshot autobahn
#   tests/browser/run.sh PART...      only these parts
#
# Parts:
#   build       npm/build.sh (Node and web wasm builds) and the native `sockweave` binary
#   tests       tests/browser/harness.html: in-page client/server over connectedPair()
#               (text, binary, fragmentation, deflate windows, keep-alive, close handshake,
#               protocol error), and through the relay to `sockweave serve --echo --deflate`
#   screenshot  npm/examples/browser.html: screenshot, and check the result box's pixels
#   autobahn    Autobahn|Testsuite's fuzzing server driven from the page through the relay:
#               1.*-10.* and a 12/13 sample (BROWSER_AUTOBAHN=full: the whole suite),
#               report in tests/out/autobahn/browser-client
#
# Setup, idempotent: Chromium (apt), playwright-core (npm ci in tests/browser),
# Node `ws` for the relay and wstest (tests/peers/setup.sh). Everything binds
# 127.0.0.1; every part is bounded with `timeout`. Exits non-zero on any failure.
# Environment: CARGO_TARGET_DIR, BROWSER_AUTOBAHN (quick|full), BROWSER_TEST_ONLY
# (only in-page tests whose name contains it), BROWSER_TEST_TIMEOUT (ms per page run).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$ROOT/tests/out/browser"
mkdir -p "$OUT"
PARTS=("$@")
[ "${#PARTS[@]}" -eq 0 ] && PARTS=(build tests screenshot autobahn)
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
log() { printf 'browser: %s\n' "$*" >&2; }

FAILED=()
PASSED=()
part() {
    local name="$1"
    shift
    want "$name" || return 0
    echo "=== browser: $name"
    local rc=0
    timeout --kill-after=10 "$@" || rc=$?
    [ "$rc" -eq 124 ] && echo "browser: $name timed out"
    if [ "$rc" -eq 0 ]; then PASSED+=("$name"); else FAILED+=("$name (exit $rc)"); fi
}

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    return 0
}
trap cleanup EXIT

# ------------------------------------------------------------------ setup
if want build; then
    part build 1800 bash -c 'bash npm/build.sh && cargo build --release -p sockweave --bin sockweave'
fi
[ -f npm/dist/web/sockweave_wasm_bg.wasm ] && [ -f npm/dist/web/sockweave_lib.mjs ] \
    || { log "npm/dist/web is missing: run the build part (npm/build.sh)"; exit 1; }
SOCKWEAVE="$TARGET_DIR/release/sockweave"

if ! command -v chromium >/dev/null; then
    log "installing Chromium (apt)"
    timeout 900 apt-get install -y chromium chromium-driver >&2 \
        || { timeout 300 apt-get update >&2 && timeout 900 apt-get install -y chromium chromium-driver >&2; } \
        || { log "cannot install Chromium"; exit 1; }
fi
if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
    log "installing playwright-core (npm ci in tests/browser; no browser download)"
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 600 npm ci --no-audit --no-fund >&2) \
        || { log "cannot install playwright-core"; exit 1; }
fi
if [ ! -d tests/peers/node/node_modules/ws ]; then
    timeout 900 bash tests/peers/setup.sh node || { log "cannot install Node ws"; exit 1; }
fi
if want autobahn && [ ! -x tests/.cache/wstest/venv/bin/python ]; then
    timeout 1800 bash tests/peers/setup.sh wstest || { log "cannot install Autobahn|Testsuite"; exit 1; }
fi
export NODE_PATH="$ROOT/tests/peers/node/node_modules"

# Starts a server in the background; prints the port from its "listening on ...:PORT/" line.
start() {
    local logfile="$1"
    shift
    "$@" >"$logfile" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    local i
    for i in $(seq 1 100); do
        local port
        port="$(grep -o 'listening on [a-z]*://127\.0\.0\.1:[0-9]*' "$logfile" 2>/dev/null | head -n 1 | sed 's/.*://')"
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "$* did not start:"
    cat "$logfile" >&2
    return 1
}

# The harness server (static files + relay) lives for the whole run.
WEB_PORT="$(start "$OUT/server.log" timeout 3600 node "$HERE/server.js" 0)" || exit 1
BASE="http://127.0.0.1:$WEB_PORT/"
log "harness server on $BASE"

if want tests; then
    [ -x "$SOCKWEAVE" ] || { log "$SOCKWEAVE is missing: run the build part"; exit 1; }
    ECHO_PORT="$(start "$OUT/echo.log" timeout 3600 "$SOCKWEAVE" serve 127.0.0.1:0 --echo --deflate)" || exit 1
    log "sockweave serve --echo --deflate on 127.0.0.1:$ECHO_PORT"
    part tests 300 node "$HERE/driver.js" tests "$BASE" "$ECHO_PORT"
fi
part screenshot 120 node "$HERE/driver.js" screenshot "$BASE" "$OUT/example.png"

if want autobahn; then
    BASIC=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*')
    SAMPLE=()
    for g in 1 2 3 4 5; do SAMPLE+=("12.$g.1" "12.$g.17"); done
    for g in 1 2 3 4 5 6 7; do SAMPLE+=("13.$g.1" "13.$g.17"); done
    if [ "${BROWSER_AUTOBAHN:-quick}" = full ]; then CASES=('*'); LIMIT=3600; else CASES=("${BASIC[@]}" "${SAMPLE[@]}"); LIMIT=1200; fi
    part autobahn $((LIMIT + 300)) env BROWSER_TEST_TIMEOUT=$((LIMIT * 1000)) \
        bash tests/autobahn/fuzzingserver.sh --agent sockweave-browser-client --timeout "$LIMIT" \
        --outdir tests/out/autobahn/browser-client "${CASES[@]}" -- \
        node "$HERE/driver.js" autobahn "$BASE" '{url}' '{agent}'
fi

echo "browser: ${#PASSED[@]} passed (${PASSED[*]:-}), ${#FAILED[@]} failed${FAILED[*]:+ (${FAILED[*]})}"
[ "${#FAILED[@]}" -eq 0 ]
