#!/usr/bin/env bash
# permessage-deflate interop: sockweave against Python `websockets` and Node `ws`,
# both roles, at several parameter combinations. Loopback only, bounded in time.
# Prints one line per check and `N passed, M failed`; exits non-zero on failure.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Messages our client sends: text lines, among them long and repetitive ones.
python3 - "$TMP/lines.txt" <<'PYEOF'
import sys, json
lines = ["héllo wörld ✓", "x"]
lines += [json.dumps({"user": "ada", "seq": i, "text": "hello there, how are you today?" * 3}) for i in range(200)]
lines += ["repeat " * 30000, "".join(chr(0x41 + (i * 7919) % 26) for i in range(100000))]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PYEOF

# our_client NAME OUR_DEFLATE_SPEC EXPECT_REGEX PEER(py|node) PEER_PARAMS
our_client() {
    local name="$1" spec="$2" expect="$3" peer="$4" params="$5" port out
    port="$(free_port)"
    out="$TMP/$name"
    if [ "$peer" = py ]; then
        "$PY" "$HERE/deflate_peers.py" server "$port" "$params" >"$out.srv" 2>&1 &
    else
        node "$HERE/deflate_peers.js" server "$port" "$params" >"$out.srv" 2>&1 &
    fi
    PIDS+=($!)
    if ! wait_line "$out.srv" "^(ready|listening)"; then bad "$name: peer did not start: $(tail -3 "$out.srv")"; return; fi
    # stdin ends 2 s after the last line so every echo is back before our Close
    # (a peer stops echoing once it has seen the Close).
    if ! (cat "$TMP/lines.txt"; sleep 2) | timeout 60 "$BIN" connect "ws://127.0.0.1:$port/ext" "--deflate=$spec" >"$out.out" 2>"$out.err"; then
        bad "$name: sockweave connect failed: $(tail -3 "$out.err")"
        return
    fi
    local ext
    ext="$(head -1 "$out.out")"
    if ! grep -qE -- "$expect" <<<"$ext"; then bad "$name: negotiated '$ext', expected /$expect/"; return; fi
    if ! tail -n +2 "$out.out" | cmp -s - "$TMP/lines.txt"; then bad "$name: echoes differ"; return; fi
    ok "$name: $ext"
}

# our_server NAME OUR_DEFLATE_SPEC PEER(py|node) PEER_PARAMS
our_server() {
    local name="$1" spec="$2" peer="$3" params="$4" port out
    port="$(free_port)"
    out="$TMP/$name"
    "$BIN" serve "127.0.0.1:$port" --echo "--deflate=$spec" >"$out.srv" 2>&1 &
    PIDS+=($!)
    if ! wait_line "$out.srv" "^(ready|listening)"; then bad "$name: sockweave serve did not start"; return; fi
    local rc=0
    if [ "$peer" = py ]; then
        timeout 60 "$PY" "$HERE/deflate_peers.py" client "ws://127.0.0.1:$port/" "$params" >"$out.out" 2>&1 || rc=$?
    else
        timeout 60 node "$HERE/deflate_peers.js" client "ws://127.0.0.1:$port/" "$params" >"$out.out" 2>&1 || rc=$?
    fi
    if [ $rc -eq 0 ]; then
        ok "$name: $(head -1 "$out.out") / $(tail -1 "$out.out")"
    else
        bad "$name: $(tail -3 "$out.out")"
    fi
}

# Our client against their servers.
our_client py-default "" '^permessage-deflate' py ""
our_client py-windows-10 "client_max_window_bits=10,server_max_window_bits=10" \
    'server_max_window_bits=10' py "server_max_window_bits=10,client_max_window_bits=10"
our_client py-no-takeover "client_no_context_takeover,server_no_context_takeover" \
    'server_no_context_takeover' py "server_no_context_takeover,client_no_context_takeover"
our_client py-server-limits-9 "" 'client_max_window_bits=9' py "server_max_window_bits=9,client_max_window_bits=9"
our_client py-our-window-8 "client_max_window_bits=8" '^permessage-deflate' py ""
our_client ws-default "" '^permessage-deflate' node '{}'
our_client ws-windows-11 "client_max_window_bits=11,server_max_window_bits=11" 'server_max_window_bits=11' node '{}'
our_client ws-no-takeover "" 'client_no_context_takeover' node '{"serverNoContextTakeover":true,"clientNoContextTakeover":true}'
our_client ws-server-limits-9 "" 'client_max_window_bits=9' node '{"clientMaxWindowBits":9,"serverMaxWindowBits":9}'

# Their clients against our server.
our_server py-client-default "" py ""
our_server py-client-windows-9 "" py "server_max_window_bits=9,client_max_window_bits=9"
our_server py-client-no-takeover "" py "server_no_context_takeover,client_no_context_takeover"
our_server py-client-asks-8 "" py "server_max_window_bits=8"
our_server py-server-limits-10 "server_max_window_bits=10,client_max_window_bits=10,server_no_context_takeover" py "client_max_window_bits"
our_server ws-client-default "" node '{}'
our_server ws-client-windows-10 "" node '{"serverMaxWindowBits":10,"clientMaxWindowBits":10}'
our_server ws-client-no-takeover "" node '{"serverNoContextTakeover":true,"clientNoContextTakeover":true}'

echo "deflate interop: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
