#!/usr/bin/env bash
# sockweave inside hyper 1.x and axum 0.8 (native/examples/hyper_server.rs and
# axum_server.rs, echo servers with --deflate), against real peers. Everything binds
# 127.0.0.1; every process is bounded by `timeout`.
#
#   tests/interop/frameworks.sh [PART...]     PARTs: python autobahn autobahn-short browser
#                                             (default: python autobahn browser)
#
#   python    Python `websockets` clients over HTTP/1.1: echo_peers.py's suite (0 B to
#             1 MiB, fragmented, ping, close 1000) and deflate_peers.py's 56 messages with
#             permessage-deflate (client_max_window_bits=10), against each server
#   autobahn  Autobahn|Testsuite's fuzzing client, the quick set of
#             tests/autobahn/sockweave.sh (1-10 and a 12/13 sample, 325 cases), against
#             each server (the two runs at once; about 4 minutes here); reports in
#             tests/out/autobahn/{hyper,axum}
#   autobahn-short  the same with 1-7, 9.1-9.2 (up to 16 MiB), 10 and three deflate cases (tests/run's interop
#             step; the engine behind both is the one tests/run's autobahn step runs whole)
#   browser   headless Chromium's own WebSocket (tests/browser's playwright-core, Debian's
#             /usr/bin/chromium): wss:// to the hyper and axum examples with TLS, where the
#             page's HTTP/2 connection carries the WebSocket as an extended CONNECT, and ws://
#             over HTTP/1.1 to the axum example; 0 B, 16 B, 100 KiB text and binary, close 1000;
#             the server's log must show the HTTP version
#
# Needs tests/peers/setup.sh (Python websockets, wstest); the browser part needs what
# tests/browser/run.sh installs (Chromium, playwright-core). Exits non-zero on any failure.
set -uo pipefail
# shellcheck source=tests/interop/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PARTS=("$@")
[ "${#PARTS[@]}" -eq 0 ] && PARTS=(python autobahn browser)
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
T0=$SECONDS

timeout 1500 cargo build --release -p sockweave --features hyper,axum \
    --example hyper_server --example axum_server >/dev/null || { echo "FAIL building the examples"; exit 1; }
EXAMPLES="$ROOT/target/release/examples"

# serve NAME ARGS...: starts example NAME (hyper or axum) on a free port with ARGS, logging
# to $TMP/NAME.log; sets PORT. Bounded: the servers outlive no run of this script.
serve() {
    local name="$1" log="$TMP/$1.log"
    shift
    PORT=$(free_port)
    timeout 900 "$EXAMPLES/${name%%-*}_server" "127.0.0.1:$PORT" "$@" >"$log" 2>&1 &
    PIDS+=($!)
    wait_line "$log" '^listening on' || { bad "$name example did not start"; cat "$log"; exit 1; }
}

serve hyper --deflate --log
HYPER=$PORT
serve axum --deflate --log
AXUM=$PORT

if want python; then
    for s in "hyper $HYPER" "axum $AXUM"; do
        # shellcheck disable=SC2086  # "NAME PORT ..." split on purpose
        set -- $s
        out=$(timeout 120 "$PY" "$HERE/echo_peers.py" client "ws://127.0.0.1:$2/python" 2>&1)
        if [ $? -eq 0 ] && grep -q '^ok ' <<<"$out"; then
            ok "$1: Python websockets client over HTTP/1.1: $(grep '^ok ' <<<"$out" | sed 's/^ok //')"
        else
            bad "$1: Python websockets client: $out"
        fi
        out=$(timeout 120 "$PY" "$HERE/deflate_peers.py" client "ws://127.0.0.1:$2/deflate" \
            "client_max_window_bits=10" 2>&1)
        # Our answer to the offer, exactly, and websockets running with what it says.
        if [ $? -eq 0 ] && grep -qx 'permessage-deflate; client_max_window_bits=10' <<<"$out" &&
            grep -q '^negotiated server_max_window_bits=15 client_max_window_bits=10 ' <<<"$out" &&
            grep -q '^ok ' <<<"$out"; then
            ok "$1: Python websockets with permessage-deflate: $(grep '^ok ' <<<"$out" | sed 's/^ok //'), window 10 answered"
        else
            bad "$1: Python websockets with permessage-deflate: $out"
        fi
        grep -q '^websocket Http11 /deflate status=101\|^websocket Http11 /deflate protocol' "$TMP/$1.log" ||
            bad "$1: the server's log does not show the HTTP/1.1 WebSocket: $(cat "$TMP/$1.log")"
    done
fi

CASES=()
if want autobahn; then
    CASES=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*')
    for g in 1 2 3 4 5; do CASES+=("12.$g.1" "12.$g.17"); done
    for g in 1 2 3 4 5 6 7; do CASES+=("13.$g.1" "13.$g.17"); done
    SET="quick set"
elif want autobahn-short; then
    CASES=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.1.*' '9.2.*' '10.*' '12.1.1' '13.1.1' '13.7.1')
    SET="short set"
fi
if [ "${#CASES[@]}" -gt 0 ]; then
    AB=()
    for s in "hyper $HYPER" "axum $AXUM"; do
        # shellcheck disable=SC2086  # "NAME PORT ..." split on purpose
        set -- $s
        timeout 900 bash "$ROOT/tests/autobahn/fuzzingclient.sh" --agent "$1" --timeout 800 \
            --outdir "$ROOT/tests/out/autobahn/$1" --url "ws://127.0.0.1:$2" "${CASES[@]}" \
            >"$TMP/autobahn-$1.log" 2>&1 &
        AB+=("$1:$!")
    done
    for a in "${AB[@]}"; do
        name="${a%%:*}"
        if wait "${a#*:}"; then
            ok "$name: Autobahn $SET: $(grep '^REPORT autobahn .*PASS' "$TMP/autobahn-$name.log" | sed 's/^REPORT //')"
        else
            bad "$name: Autobahn $SET: $(tail -n 30 "$TMP/autobahn-$name.log")"
        fi
        grep '^REPORT' "$TMP/autobahn-$name.log"
    done
fi

if want browser; then
    if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ] || [ ! -f "$ROOT/tests/browser/node_modules/playwright-core/package.json" ]; then
        bad "browser: Chromium or playwright-core is missing; tests/browser/run.sh build installs them"
    else
        make_certs "$TMP/pki"
        serve hyper-tls --deflate --log --tls-cert "$TMP/pki/server.pem" --tls-key "$TMP/pki/server.key"
        TLS=$PORT
        serve axum-tls --deflate --log --tls-cert "$TMP/pki/server.pem" --tls-key "$TMP/pki/server.key"
        AXUM_TLS=$PORT
        for s in "hyper-tls https://127.0.0.1:$TLS/page wss://127.0.0.1:$TLS/chromium Http2" \
            "axum-tls https://127.0.0.1:$AXUM_TLS/page wss://127.0.0.1:$AXUM_TLS/chromium Http2" \
            "axum http://127.0.0.1:$AXUM/page ws://127.0.0.1:$AXUM/chromium Http11"; do
            # shellcheck disable=SC2086  # "NAME PORT ..." split on purpose
            set -- $s
            out=$(timeout 120 node "$HERE/frameworks_browser.js" "$2" "$3" 2>&1)
            rc=$?
            echo "$out" | sed 's/^/    /'
            if [ $rc -eq 0 ] && grep -q "^websocket $4 /chromium" "$TMP/$1.log"; then
                ok "$1: Chromium's WebSocket over $4 ($3): $(grep '^ok ' <<<"$out" | sed 's/^ok //')"
            else
                bad "$1: Chromium's WebSocket over $4 ($3); server log: $(cat "$TMP/$1.log")"
            fi
        done
    fi
fi

echo "frameworks: $PASS passed, $FAIL failed ($((SECONDS - T0)) s)"
echo "REPORT frameworks (hyper, axum): $PASS checks passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
