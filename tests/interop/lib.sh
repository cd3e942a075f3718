# Shared by the interop scripts (sourced): paths, the peers, a temp dir whose
# processes are killed on exit, check counting, free ports and readiness waits.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/tests/interop"
BIN="$ROOT/target/release/sockweave"
PY="$ROOT/tests/.cache/py3/bin/python"
export NODE_PATH="$ROOT/tests/peers/node/node_modules"
cargo build --release -p sockweave --bin sockweave >/dev/null
[ -x "$PY" ] && [ -d "$NODE_PATH/ws" ] || { echo "peers missing: run tests/peers/setup.sh" >&2; exit 2; }

TMP="$(mktemp -d)"
chmod 755 "$TMP"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_line FILE REGEX: until FILE has a matching line (15 s at most).
wait_line() {
    for _ in $(seq 150); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
wait_port() { for _ in $(seq 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
