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

# neg S C SNCT CNCT: the line a peer prints for what it negotiated (see the peers).
neg() {
    echo "negotiated server_max_window_bits=$1 client_max_window_bits=$2 server_no_context_takeover=$3 client_no_context_takeover=$4"
}

# our_client NAME OUR_DEFLATE_SPEC EXPECT_REGEX PEER(py|node) PEER_PARAMS [NEGOTIATED]
# EXPECT_REGEX is matched against the extension header the peer answered with;
# NEGOTIATED, if given, must be exactly what the peer reports it negotiated.
our_client() {
    local name="$1" spec="$2" expect="$3" peer="$4" params="$5" want_neg="${6:-}" port out
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
    if [ -n "$want_neg" ]; then
        local got
        got="$(grep -m1 '^negotiated' "$out.srv")"
        if [ "$got" != "$want_neg" ]; then bad "$name: peer reports '$got', expected '$want_neg'"; return; fi
    fi
    if ! tail -n +2 "$out.out" | cmp -s - "$TMP/lines.txt"; then bad "$name: echoes differ"; return; fi
    ok "$name: $ext"
}

# our_server NAME OUR_DEFLATE_SPEC PEER(py|node) PEER_PARAMS [EXPECT_HEADER NEGOTIATED]
# EXPECT_HEADER, if given, must be exactly the extension header the peer got from
# us, and NEGOTIATED exactly what the peer reports it negotiated.
our_server() {
    local name="$1" spec="$2" peer="$3" params="$4" want_ext="${5:-}" want_neg="${6:-}" port out
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
    if [ $rc -ne 0 ]; then bad "$name: $(tail -3 "$out.out")"; return; fi
    local ext got
    ext="$(head -1 "$out.out")"
    got="$(sed -n 2p "$out.out")"
    if [ -n "$want_ext" ] && [ "$ext" != "$want_ext" ]; then bad "$name: we answered '$ext', expected '$want_ext'"; return; fi
    if [ -n "$want_neg" ] && [ "$got" != "$want_neg" ]; then bad "$name: peer reports '$got', expected '$want_neg'"; return; fi
    ok "$name: $ext / $(tail -1 "$out.out")"
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
# Our client offering every parameter ("client_max_window_bits=10;
# client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover"):
# granted as offered, or lowered by the peer's own limits. (Our offer never carries
# an explicit 15: .NET's form leaves server_max_window_bits out at 15 and sends
# client_max_window_bits without a value.)
ALL="client_max_window_bits=10,server_max_window_bits=11,client_no_context_takeover,server_no_context_takeover"
our_client py-every-param "$ALL" \
    '^permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10$' \
    py "" "$(neg 11 10 true true)"
our_client py-every-param-server-limits-9 "$ALL" \
    '^permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9$' \
    py "server_max_window_bits=9,client_max_window_bits=9" "$(neg 9 9 true true)"
our_client ws-every-param "$ALL" \
    '^permessage-deflate; client_max_window_bits=10; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover$' \
    node '{}' "$(neg 11 10 true true)"
our_client ws-every-param-server-limits-9 "$ALL" \
    '^permessage-deflate; client_max_window_bits=9; client_no_context_takeover; server_max_window_bits=9; server_no_context_takeover$' \
    node '{"serverMaxWindowBits":9,"clientMaxWindowBits":9}' "$(neg 9 9 true true)"

# Their clients against our server.
our_server py-client-default "" py ""
our_server py-client-windows-9 "" py "server_max_window_bits=9,client_max_window_bits=9"
our_server py-client-no-takeover "" py "server_no_context_takeover,client_no_context_takeover"
our_server py-client-asks-8 "" py "server_max_window_bits=8"
our_server py-server-limits-10 "server_max_window_bits=10,client_max_window_bits=10,server_no_context_takeover" py "client_max_window_bits"
our_server ws-client-default "" node '{}'
our_server ws-client-windows-10 "" node '{"serverMaxWindowBits":10,"clientMaxWindowBits":10}'
our_server ws-client-no-takeover "" node '{"serverNoContextTakeover":true,"clientNoContextTakeover":true}'
# Explicit 15s (RFC 7692 7.1.2.1: an offered server_max_window_bits is answered,
# even at 15), with and without the no_context_takeover parameters; an offer with
# every parameter below 15; and explicit 15s lowered by our own limits.
E15="permessage-deflate; server_max_window_bits=15; client_max_window_bits=15"
E15N="permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15"
EVERY="permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
OURS="server_max_window_bits=11,client_max_window_bits=10,server_no_context_takeover,client_no_context_takeover"
LIMITED="permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10"
our_server py-client-explicit-15 "" py "server_max_window_bits=15,client_max_window_bits=15" \
    "$E15" "$(neg 15 15 false false)"
our_server py-client-explicit-15-no-takeover "" py \
    "server_no_context_takeover,client_no_context_takeover,server_max_window_bits=15,client_max_window_bits=15" \
    "$E15N" "$(neg 15 15 true true)"
our_server py-client-explicit-15-server-no-takeover "" py "server_no_context_takeover,server_max_window_bits=15,client_max_window_bits=15" \
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15" "$(neg 15 15 true false)"
our_server py-client-every-param "" py \
    "server_no_context_takeover,client_no_context_takeover,server_max_window_bits=10,client_max_window_bits=9" \
    "$EVERY" "$(neg 10 9 true true)"
our_server py-client-explicit-15-our-limits "$OURS" py "server_max_window_bits=15,client_max_window_bits=15" \
    "$LIMITED" "$(neg 11 10 true true)"
our_server ws-client-explicit-15 "" node '{"serverMaxWindowBits":15,"clientMaxWindowBits":15}' \
    "$E15" "$(neg 15 15 false false)"
our_server ws-client-explicit-15-no-takeover "" node \
    '{"serverMaxWindowBits":15,"clientMaxWindowBits":15,"serverNoContextTakeover":true,"clientNoContextTakeover":true}' \
    "$E15N" "$(neg 15 15 true true)"
our_server ws-client-explicit-15-client-no-takeover "" node '{"serverMaxWindowBits":15,"clientMaxWindowBits":15,"clientNoContextTakeover":true}' \
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15" "$(neg 15 15 false true)"
our_server ws-client-every-param "" node \
    '{"serverMaxWindowBits":10,"clientMaxWindowBits":9,"serverNoContextTakeover":true,"clientNoContextTakeover":true}' \
    "$EVERY" "$(neg 10 9 true true)"
our_server ws-client-explicit-15-our-limits "$OURS" node '{"serverMaxWindowBits":15,"clientMaxWindowBits":15}' \
    "$LIMITED" "$(neg 11 10 true true)"

echo "deflate interop: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
