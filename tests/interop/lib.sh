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

# make_certs DIR: a test CA (ca.pem) and certificates signed by it: server.pem/key for
# localhost and 127.0.0.1, other.pem/key for example.test only.
make_certs() {
    mkdir -p "$1"
    (
        cd "$1"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=sockweave test CA" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
        # A certificate for another name only, for the wrong-name check.
        openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj "/CN=example.test" 2>/dev/null
        printf 'subjectAltName=DNS:example.test\nextendedKeyUsage=serverAuth\n' >other.cnf
        openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other.pem -days 2 -extfile other.cnf 2>/dev/null
    )
}

# Lines our client sends; stdin stays open 2 s more so every echo is back first.
python3 - "$TMP/lines.txt" <<'PYEOF'
import sys
lines = ["hello", "héllo wörld ✓", "x" * 200000] + ["line %d" % i for i in range(100)]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PYEOF
send_lines() { (cat "$TMP/lines.txt"; sleep 2) | timeout 60 "$BIN" connect "$@"; }

