#!/usr/bin/env bash
# Node http2 + ws over RFC 8441 against `sockweave serve` and against a tiny Node
# server (h2_node_close.js), with and without ws's closeTimeout option; prints
# runs/failures per variant (see h2_node_close.md). Not part of tests/run.
#   BIN=path/to/sockweave RUNS=200 tests/interop/h2_node_close.sh
# A sockweave server that starts spinning (driver busy loop, see the .md) is
# restarted and the run counts continue; the number of restarts is printed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${BIN:-$HERE/../../target/release/sockweave}"
RUNS="${RUNS:-200}"
JS="$HERE/h2_node_close.js"
TMP="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
# Test CA and server certificate (as lib.sh makes them).
(
    cd "$TMP"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
)

sockweave_variant() { # TLS(h2c|tls) MODE(client-close|server-close) CLOSE_TIMEOUT(''|ms)
    local tls="$1" mode="$2" ct="$3" done=0 fail=0 restarts=0 extra=() ca=()
    [ "$mode" = server-close ] && extra=(--max-message-size 1000)
    [ "$tls" = tls ] && extra+=(--tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key") && ca=(--ca "$TMP/ca.pem")
    while [ "$done" -lt "$RUNS" ]; do
        "$BIN" serve 127.0.0.1:0 --echo "${extra[@]}" >"$TMP/serve.log" 2>&1 &
        local pid=$!
        for _ in $(seq 50); do grep -q '^listening' "$TMP/serve.log" && break; sleep 0.1; done
        local port
        port="$(grep -oE ':[0-9]+/$' "$TMP/serve.log" | tr -d :/)"
        local url="http://127.0.0.1:$port"
        [ "$tls" = tls ] && url="https://localhost:$port"
        node "$JS" client "$url" --runs $((RUNS - done)) --mode "$mode" ${ct:+--close-timeout "$ct"} \
            "${ca[@]}" --server-pid "$pid" >"$TMP/client.out" 2>&1
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        local s
        s="$(grep '^SUMMARY' "$TMP/client.out")"
        done=$((done + $(sed -E 's/.* runs=([0-9]+).*/\1/' <<<"$s")))
        fail=$((fail + $(sed -E 's/.* failures=([0-9]+).*/\1/' <<<"$s")))
        grep -q server-spinning <<<"$s" && restarts=$((restarts + 1))
    done
    echo "sockweave serve $tls $mode closeTimeout=${ct:-unset}: runs=$done failures=$fail server-spin-restarts=$restarts"
}

node_variant() { # BEHAVIOUR CLOSE_TIMEOUT
    local port=$((43000 + RANDOM % 2000))
    node "$JS" server "$port" "$1" >"$TMP/nsrv.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do grep -q '^ready' "$TMP/nsrv.log" && break; sleep 0.1; done
    local s
    s="$(node "$JS" client "http://127.0.0.1:$port" --runs "$RUNS" ${2:+--close-timeout "$2"} | grep '^SUMMARY')"
    kill "$pid"
    echo "node server '$1' closeTimeout=${2:-unset}: $(sed -E 's/.*(runs=.*)/\1/' <<<"$s")"
}

for tls in h2c tls; do
    for mode in client-close server-close; do
        for ct in "" 30000; do sockweave_variant "$tls" "$mode" "$ct"; done
    done
done
for beh in wait delay=3 rst goaway; do
    for ct in "" 30000; do node_variant "$beh" "$ct"; done
done
