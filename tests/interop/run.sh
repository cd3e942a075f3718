#!/usr/bin/env bash
# Interop with real third-party peers, on 127.0.0.1 only, every step bounded:
#   - our client (`sockweave connect`, and `sockweave bench` for a second) against Python `websockets` and Node `ws`
#     echo servers, plain and TLS (a test CA made here with openssl);
#   - their clients against `sockweave serve --echo`, plain and TLS;
#   - TLS verification on by default (unknown CA, wrong name) and --insecure;
#   - a real HTTP proxy (Debian's tinyproxy), plain and TLS through it, with
#     and without Basic proxy credentials;
#   - proxies from the environment (HTTP_PROXY, https_proxy, NO_PROXY, --no-proxy),
#     each variable set for one `sockweave connect` process only.
# Prints one line per check and `N passed, M failed`; exits non-zero on failure.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# sockweave (and Python websockets) honour proxy variables; the caller's must not
# reach these loopback tests. Section 4 sets its own, one process at a time.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY GATEWAY_INTERFACE

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
        # `sockweave bench` load-tests a third-party server: its summary counts the round trips.
        if timeout 30 "$BIN" bench "$url/" "${extra[@]}" --duration 1s -c 2 --in-flight 4 --no-proxy \
            >"$TMP/$name.bench" 2>"$TMP/$name.bench.err" &&
            grep -Eq '^summary: [1-9][0-9]* messages in .*, 0 errors$' "$TMP/$name.bench"; then
            ok "$name: sockweave bench: $(grep '^summary' "$TMP/$name.bench")"
        else
            bad "$name: sockweave bench: $(tail -2 "$TMP/$name.bench" "$TMP/$name.bench.err")"
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

# 4. Proxies from the environment, as .NET's default proxy: tinyproxy with Basic
# credentials (given in the variables' URLs), the TLS echo server of section 3
# and a plain one. `tunnels PORT` counts the CONNECTs to (any host's) PORT tinyproxy logged.
plain_port="$(free_port)"
start_peer env-plain-echo py "$plain_port" || true
tp="$TMP/tp-env"
tport="$(free_port)"
dead="http://127.0.0.1:$(free_port)" # nobody listens there: a proxy that refuses everything
mkdir -p "$tp"
chmod 777 "$tp"
printf 'Port %s\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nMaxClients 20\nLogLevel Connect\nLogFile "%s"\nPidFile "%s"\nBasicAuth ada secret\n' \
    "$tport" "$tp/tinyproxy.log" "$tp/tinyproxy.pid" >"$tp/tinyproxy.conf"
tinyproxy -d -c "$tp/tinyproxy.conf" >"$tp/stdout.log" 2>&1 &
PIDS+=($!)
tunnels() { grep -c "Request (file descriptor [0-9]*): CONNECT [^ ]*:$1 " "$tp/tinyproxy.log" 2>/dev/null || true; }
# env_send VAR=VALUE... -- URL ARGS...: send_lines with exactly these proxy variables set.
env_send() {
    local vars=()
    while [ "$1" != "--" ]; do vars+=("$1"); shift; done
    shift
    (cat "$TMP/lines.txt"; sleep 2) | env "${vars[@]}" timeout 60 "$BIN" connect "$@"
}
# env_check NAME EXPECTED_TUNNELS PORT VAR=VALUE... -- URL ARGS...: the lines are echoed,
# tinyproxy logged EXPECTED_TUNNELS more CONNECTs to PORT, no password on the terminal.
env_check() {
    local name="$1" want="$2" port="$3" before after
    shift 3
    before="$(tunnels "$port")"
    if env_send "$@" >"$tp/$name.out" 2>"$tp/$name.err" && cmp -s "$tp/$name.out" "$TMP/lines.txt"; then
        after="$(tunnels "$port")"
        if [ $((after - before)) -ne "$want" ]; then
            bad "$name: echoed, but tinyproxy logged $((after - before)) CONNECT(s) to :$port, expected $want"
        elif grep -q secret "$tp/$name.err" "$tp/$name.out"; then
            bad "$name: the proxy password was printed: $(grep secret "$tp/$name.err")"
        elif [ "$want" -gt 0 ] && ! grep -q "through the proxy 127.0.0.1:$tport (from" "$tp/$name.err"; then
            bad "$name: went through the proxy but did not say so: $(head -2 "$tp/$name.err")"
        elif [ "$want" -eq 0 ] && grep -q "through the proxy" "$tp/$name.err"; then
            bad "$name: claims a proxy: $(head -2 "$tp/$name.err")"
        else
            ok "$name: echoed, $want CONNECT(s) in tinyproxy's log"
        fi
    else
        bad "$name: $(tail -2 "$tp/$name.err")"
    fi
}
if wait_port "$tport"; then
    auth="http://ada:secret@127.0.0.1:$tport"
    env_check env-http-proxy 1 "$plain_port" HTTP_PROXY="$auth" -- "ws://127.0.0.1:$plain_port/"
    env_check env-https-proxy 1 "$echo_port" https_proxy="$auth" HTTP_PROXY="$dead" -- \
        "wss://localhost:$echo_port/" --ca "$C/ca.pem"
    env_check env-all-proxy 1 "$plain_port" ALL_PROXY="127.0.0.1:$tport" all_proxy="$auth" -- "ws://127.0.0.1:$plain_port/"
    env_check env-no-proxy 0 "$plain_port" HTTP_PROXY="$auth" NO_PROXY="localhost,127.0.0.1" -- "ws://127.0.0.1:$plain_port/"
    env_check env-no-proxy-port 0 "$echo_port" HTTPS_PROXY="$auth" no_proxy="localhost:$echo_port" -- \
        "wss://localhost:$echo_port/" --ca "$C/ca.pem"
    env_check env-explicit-wins 1 "$plain_port" HTTP_PROXY="$dead" -- "ws://127.0.0.1:$plain_port/" --proxy "$auth"
    # A proxy that refuses everything: used when the variable says so, skipped by
    # NO_PROXY (a CIDR block here) and by --no-proxy.
    if err="$( (sleep 1) | env HTTP_PROXY="$dead" timeout 20 "$BIN" connect "ws://127.0.0.1:$plain_port/" 2>&1)"; then
        bad "env-dead-proxy: connected although HTTP_PROXY names a proxy nobody runs"
    elif grep -q "cannot connect to the proxy 127.0.0.1" <<<"$err"; then
        ok "env-dead-proxy: HTTP_PROXY is used (the dead proxy's error is reported)"
    else
        bad "env-dead-proxy: unexpected error: $err"
    fi
    env_check env-dead-no-proxy 0 "$plain_port" HTTP_PROXY="$dead" NO_PROXY="10.0.0.0/8,127.0.0.0/8" -- "ws://127.0.0.1:$plain_port/"
    env_check env-dead-flag 0 "$plain_port" HTTP_PROXY="$dead" HTTPS_PROXY="$dead" -- "ws://127.0.0.1:$plain_port/" --no-proxy
    # httpoxy: under CGI, upper-case HTTP_PROXY may come from a request header.
    env_check env-cgi 0 "$plain_port" GATEWAY_INTERFACE=CGI/1.1 HTTP_PROXY="$auth" -- "ws://127.0.0.1:$plain_port/"
    if err="$( (sleep 1) | env HTTPS_PROXY="socks5://ada:secret@127.0.0.1:1080" timeout 20 "$BIN" connect "wss://localhost:$echo_port/" --ca "$C/ca.pem" 2>&1)"; then
        bad "env-socks: connected through an unsupported socks5:// proxy"
    elif grep -q secret <<<"$err"; then
        bad "env-socks: the error shows the password: $err"
    elif grep -q "HTTPS_PROXY" <<<"$err" && grep -q "socks5" <<<"$err"; then
        ok "env-socks: an unsupported HTTPS_PROXY is an error naming it, password hidden"
    else
        bad "env-socks: unexpected error: $err"
    fi
    if err="$("$BIN" connect "ws://127.0.0.1:$plain_port/" --proxy "$auth" --no-proxy 2>&1)"; then
        bad "env-flags: --proxy with --no-proxy was accepted"
    elif grep -q "contradict" <<<"$err"; then
        ok "env-flags: --proxy with --no-proxy is refused"
    else
        bad "env-flags: unexpected error: $err"
    fi
else
    bad "tinyproxy-env did not start: $(tail -3 "$tp/stdout.log")"
fi

echo "interop: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
