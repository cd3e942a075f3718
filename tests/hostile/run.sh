#!/usr/bin/env bash
# The standing attack suite (tests/hostile/attacks.py) against `sockweave serve`
# (HTTP/1.1, h2c and TLS on one port) and the npm server (raw `net` accept and
# node:http acceptUpgrade), on 127.0.0.1 with real sockets. Asserts on status
# codes, connection fate and server memory, never on time.
#
#   tests/hostile/run.sh [native] [npm]
#
# Environment: SOCKWEAVE_BIN (default target/release/sockweave; point it at an
# older build to measure "before" figures).
set -uo pipefail
SUITE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$SUITE/../interop/lib.sh"
BIN="${SOCKWEAVE_BIN:-$BIN}"
WHICH=("$@")
[ "${#WHICH[@]}" -eq 0 ] && WHICH=(native npm)
export PYTHONPATH=""
rc=0

if [[ " ${WHICH[*]} " == *" native "* ]]; then
    C="$TMP/certs"
    make_certs "$C"
    port="$(free_port)"
    tport="$(free_port)"
    common=(--echo --allow-origin https://app.example --handshake-timeout 2s --idle-timeout 3s)
    "$BIN" serve "127.0.0.1:$port" "${common[@]}" >"$TMP/serve.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    "$BIN" serve "127.0.0.1:$tport" "${common[@]}" --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
        >"$TMP/serve-tls.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" && wait_port "$tport" || { echo "FAIL sockweave serve did not start"; cat "$TMP"/serve*.log; exit 1; }
    timeout 600 "$PY" "$SUITE/attacks.py" --name native --port "$port" --tls-port "$tport" --pid "$pid" --h2 || rc=1
fi

if [[ " ${WHICH[*]} " == *" npm "* ]]; then
    [ -f "$ROOT/npm/dist/sockweave_wasm_bg.wasm" ] || bash "$ROOT/npm/build.sh" >/dev/null
    port="$(free_port)"
    hport="$(free_port)"
    HOSTILE_MEM_FILE="$TMP/npm-memory.json" node --expose-gc "$SUITE/npm_server.js" "$port" "$hport" >"$TMP/npm.log" 2>&1 &
    pid=$!
    PIDS+=($pid)
    wait_port "$port" && wait_port "$hport" || { echo "FAIL npm server did not start"; cat "$TMP/npm.log"; exit 1; }
    HOSTILE_MEM_FILE="$TMP/npm-memory.json" timeout 600 "$PY" "$SUITE/attacks.py" --name npm --port "$port" --http-port "$hport" --pid "$pid" || rc=1
fi
exit $rc
