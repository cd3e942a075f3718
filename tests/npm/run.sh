#!/usr/bin/env bash
# The npm package's tests: builds it (npm/build.sh), runs the node:test suites
# (shared vectors, client/server over stream pairs and loopback TCP, keep-alive,
# interop with Node ws and Python websockets, wss:// with a test CA, HTTP/2
# (RFC 8441) with Node http2 + ws and hypercorn, the standard WebSocket class, WebSocketStream
# with its backpressure counted in bytes), the
# differential suite of the standard WebSocket class against undici's
# (tests/npm/standard_diff.js, REPORT lines), packs it and installs the tarball into a fresh
# project as a user would, runs the suites and the pack test again on Node 18
# and 22 (tests/npm/node_versions.sh; the machine's own Node is 20), then runs Autobahn|Testsuite in both roles (cases
# 1-10 and a 12/13 sample, tests/npm/autobahn.sh quick) and the benchmark
# against ws (tests/npm/bench.js, REPORT lines only). Every part is bounded with `timeout`; everything
# binds 127.0.0.1 only. Exits non-zero on any failure.
#
#   tests/npm/run.sh              build, then every part
#   tests/npm/run.sh PART...      only these parts: build vectors lifecycle lifecycle_sockets connection keepalive
#                                 interop tls_python h2 invoker invoker_settings credentials proxy standard websocket_stream standard_diff pack node_versions
#                                 autobahn bench
#
# Environment: CARGO_TARGET_DIR (passed to the build), NPM_TEST_TIMEOUT
# (seconds per part, default 300).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
T="${NPM_TEST_TIMEOUT:-300}"
PARTS=("$@")
[ "${#PARTS[@]}" -eq 0 ] && PARTS=(build vectors lifecycle lifecycle_sockets connection keepalive interop tls_python h2 invoker invoker_settings credentials proxy standard websocket_stream standard_diff pack node_versions autobahn bench)

FAILED=()
PASSED=()
part() {
    local name="$1"
    shift
    [[ " ${PARTS[*]} " == *" $name "* ]] || return 0
    echo "=== npm: $name"
    local rc=0
    timeout --kill-after=10 "$@" || rc=$?
    [ "$rc" -eq 124 ] && echo "npm: $name timed out"
    if [ "$rc" -eq 0 ]; then PASSED+=("$name"); else FAILED+=("$name (exit $rc)"); fi
}

part build 1200 bash npm/build.sh
if [ ! -f npm/dist/sockweave_wasm_bg.wasm ]; then
    echo "npm/dist is missing: the build failed" >&2
    exit 1
fi
if [ ! -d tests/peers/node/node_modules/ws ]; then
    timeout 900 bash tests/peers/setup.sh node || { echo "cannot install Node ws" >&2; exit 1; }
fi
if [ ! -x tests/.cache/py3/bin/python ]; then
    timeout 900 bash tests/peers/setup.sh py3 || { echo "cannot install Python websockets" >&2; exit 1; }
fi
# tests/npm's tools (package-lock.json): TypeScript for index.d.ts, undici for the differential suite.
if [ ! -x tests/npm/node_modules/.bin/tsc ] || [ ! -f tests/npm/node_modules/undici/package.json ]; then
    (cd tests/npm && timeout 600 npm ci --no-audit --no-fund) || { echo "cannot install tests/npm tools" >&2; exit 1; }
fi
for t in vectors lifecycle lifecycle_sockets connection keepalive interop tls_python h2 invoker invoker_settings credentials proxy standard websocket_stream; do
    part "$t" "$T" node --test --test-concurrency=1 "tests/npm/$t.test.js"
done
# Run directly (not under --test) so that its REPORT lines start their lines (tests/run shows them).
part standard_diff "$T" node tests/npm/standard_diff.js
part pack "$T" bash tests/npm/pack.sh
part node_versions 1500 bash tests/npm/node_versions.sh
if [[ " ${PARTS[*]} " == *" autobahn "* ]] && [ ! -x tests/.cache/wstest/venv/bin/python ]; then
    timeout 1800 bash tests/peers/setup.sh wstest || { echo "cannot install Autobahn|Testsuite" >&2; exit 1; }
fi
part autobahn 1800 bash tests/npm/autobahn.sh quick
# The benchmark against ws: REPORT lines, no thresholds.
part bench "$T" node tests/npm/bench.js 1

echo "npm: ${#PASSED[@]} passed, ${#FAILED[@]} failed"
for f in "${FAILED[@]}"; do echo "  FAILED: $f"; done
[ "${#FAILED[@]}" -eq 0 ]
