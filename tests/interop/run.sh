#!/usr/bin/env bash
# Interop with real third-party peers, on 127.0.0.1 only, every step bounded:
#   - our client (`sockweave connect`) against Python `websockets` and Node `ws`
#     echo servers, plain and TLS (a test CA made here with openssl);
#   - their clients against `sockweave serve --echo`, plain and TLS;
#   - TLS verification on by default (unknown CA, wrong name) and --insecure;
#   - a real HTTP proxy (Debian's tinyproxy), plain and TLS through it, with
#     and without Basic proxy credentials.
# Prints one line per check and `N passed, M failed`; exits non-zero on failure.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

C="$TMP/certs"
make_certs "$C"

start_peer() { # NAME KIND(py|node) PORT [CERT KEY]
    local name="$1" kind="$2" port="$3"
    shift 3
    if [ "$kind" = py ]; then
        "$PY" "$HERE/echo_peers.py" server "$port" "$@" >"$TMP/$name.log" 2>&1 &
    else
        node "$HERE/echo_peers.js" server "$port" "$@" >"$TMP/$name.log" 2>&1 &
    fi
    PIDS+=($!)
    wait_line "$TMP/$name.log" '^ready' || { bad "$name: did not start: $(tail -3 "$TMP/$name.log")"; return 1; }
}

# 1. Our client against their servers.
for kind in py node; do
    for tls in plain tls; do
        name="$kind-server-$tls"
        port="$(free_port)"
        if [ $tls = tls ]; then
            start_peer "$name" $kind "$port" "$C/server.pem" "$C/server.key" || continue
            url="wss://localhost:$port"
            extra=(--ca "$C/ca.pem")
        else
            start_peer "$name" $kind "$port" || continue
            url="ws://127.0.0.1:$port"
            extra=()
        fi
        if send_lines "$url/" "${extra[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" && cmp -s "$TMP/$name.out" "$TMP/lines.txt"; then
            ok "$name: our client echoed $(wc -l <"$TMP/lines.txt") lines"
        else
            bad "$name: our client: $(tail -2 "$TMP/$name.err")"
        fi
        info="$( (sleep 1) | timeout 20 "$BIN" connect "$url/info" "${extra[@]}" --subprotocol superchat --subprotocol chat -H 'X-Test: 42' 2>/dev/null | head -1)"
        if [ "$info" = "chat|42" ]; then
            ok "$name: subprotocol and header seen by the server ($info)"
        else
            bad "$name: expected chat|42, got '$info'"
        fi
        if [ $tls = tls ]; then
            # Verification is on by default: without --ca the issuer is unknown.
            if err="$( (sleep 1) | timeout 20 "$BIN" connect "$url/" 2>&1)"; then
                bad "$name: connected without trusting the CA"
            elif grep -q "issuer is not trusted" <<<"$err"; then
                ok "$name: unknown CA refused by default"
            else
                bad "$name: unexpected error: $err"
            fi
            if err="$( (sleep 1) | timeout 20 "$BIN" connect "$url/" --insecure 2>&1 >/dev/null)"; then
                ok "$name: --insecure connects"
                if grep -q "warning: --insecure turns off certificate verification" <<<"$err"; then
                    ok "$name: --insecure warns on stderr"
                else
                    bad "$name: --insecure gave no warning on stderr: '$err'"
                fi
            else
                bad "$name: --insecure failed"
            fi
        fi
    done
done

# A server whose certificate is for another name.
port="$(free_port)"
if start_peer wrong-name py "$port" "$C/other.pem" "$C/other.key"; then
    if err="$( (sleep 1) | timeout 20 "$BIN" connect "wss://localhost:$port/" --ca "$C/ca.pem" 2>&1)"; then
        bad "wrong-name: connected to a certificate for example.test"
    elif grep -q "not valid for this host name" <<<"$err"; then
        ok "wrong-name: a certificate for another name is refused"
    else
        bad "wrong-name: unexpected error: $err"
    fi
fi

# `connect --echo` sends back what a third-party server sends and exits 0 on its close.
port="$(free_port)"
"$PY" "$HERE/echo_peers.py" push "$port" >"$TMP/push.log" 2>&1 &
PIDS+=($!)
if wait_line "$TMP/push.log" '^ready'; then
    if timeout 30 "$BIN" connect "ws://127.0.0.1:$port/" --echo >/dev/null 2>"$TMP/push.err"; then
        if wait_line "$TMP/push.log" '^echoes ok'; then
            ok "connect --echo: the server's 4 messages echoed, exit 0 after its close"
        else
            bad "connect --echo: $(tail -1 "$TMP/push.log")"
        fi
    else
        bad "connect --echo exited non-zero: $(tail -2 "$TMP/push.err")"
    fi
else
    bad "push server did not start"
fi

# 2. Their clients against our server.
for tls in plain tls; do
    port="$(free_port)"
    if [ $tls = tls ]; then
        "$BIN" serve "127.0.0.1:$port" --echo --tls-cert "$C/server.pem" --tls-key "$C/server.key" >"$TMP/serve-$tls.log" 2>&1 &
        url="wss://localhost:$port/"
        ca=("$C/ca.pem")
    else
        "$BIN" serve "127.0.0.1:$port" --echo >"$TMP/serve-$tls.log" 2>&1 &
        url="ws://127.0.0.1:$port/"
        ca=()
    fi
    PIDS+=($!)
    wait_line "$TMP/serve-$tls.log" '^listening' || { bad "serve-$tls did not start"; continue; }
    if out="$(timeout 60 "$PY" "$HERE/echo_peers.py" client "$url" "${ca[@]}" 2>&1)"; then
        ok "py-client-$tls: $out"
    else
        bad "py-client-$tls: $(tail -3 <<<"$out")"
    fi
    if out="$(timeout 60 node "$HERE/echo_peers.js" client "$url" "${ca[@]}" 2>&1)"; then
        ok "node-client-$tls: $out"
    else
        bad "node-client-$tls: $(tail -3 <<<"$out")"
    fi
done

# 3. Through a real HTTP proxy (tinyproxy), without and with Basic credentials.
echo_port="$(free_port)"
start_peer proxied-echo py "$echo_port" "$C/server.pem" "$C/server.key" || true
for auth in open basic; do
    pport="$(free_port)"
    mkdir -p "$TMP/tp-$auth"
    chmod 777 "$TMP/tp-$auth"
    {
        echo "Port $pport"
        echo "Listen 127.0.0.1"
        echo "Timeout 60"
        echo "Allow 127.0.0.1"
        echo "MaxClients 20"
        echo "LogLevel Connect"
        echo "LogFile \"$TMP/tp-$auth/tinyproxy.log\""
        echo "PidFile \"$TMP/tp-$auth/tinyproxy.pid\""
        [ $auth = basic ] && echo "BasicAuth ada secret"
    } >"$TMP/tp-$auth/tinyproxy.conf"
    tinyproxy -d -c "$TMP/tp-$auth/tinyproxy.conf" >"$TMP/tp-$auth/stdout.log" 2>&1 &
    PIDS+=($!)
    wait_port "$pport" || { bad "tinyproxy-$auth did not start: $(tail -3 "$TMP/tp-$auth/stdout.log")"; continue; }
    creds=""
    [ $auth = basic ] && creds="ada:secret@"
    if send_lines "wss://localhost:$echo_port/" --ca "$C/ca.pem" --proxy "http://${creds}127.0.0.1:$pport" \
        >"$TMP/tp-$auth/out" 2>"$TMP/tp-$auth/err" && cmp -s "$TMP/tp-$auth/out" "$TMP/lines.txt"; then
        if grep -q "CONNECT" "$TMP/tp-$auth/tinyproxy.log"; then
            ok "tinyproxy-$auth: wss:// through the proxy (tinyproxy logged the CONNECT)"
        else
            bad "tinyproxy-$auth: echo worked but tinyproxy logged no CONNECT"
        fi
    else
        bad "tinyproxy-$auth: $(tail -2 "$TMP/tp-$auth/err")"
    fi
    if [ $auth = basic ]; then
        if err="$( (sleep 1) | timeout 20 "$BIN" connect "wss://localhost:$echo_port/" --ca "$C/ca.pem" --proxy "http://127.0.0.1:$pport" 2>&1)"; then
            bad "tinyproxy-basic: connected without proxy credentials"
        elif grep -q "407" <<<"$err"; then
            ok "tinyproxy-basic: without credentials the proxy's 407 is reported"
        else
            bad "tinyproxy-basic: unexpected error: $err"
        fi
    fi
done

echo "interop: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
