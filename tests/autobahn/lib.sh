# Shared by fuzzingserver.sh and fuzzingclient.sh (sourced, not run).
# shellcheck shell=bash disable=SC2034  # variables used by the scripts that source it

AB_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$AB_HERE/../.." && pwd)"
WSTEST="$ROOT/tests/peers/wstest"
PY3="${PYTHON3:-python3}"

ab_die() { printf '%s: %s\n' "$AB_NAME" "$*" >&2; exit 2; }
ab_log() { printf '[%s] %s\n' "$AB_NAME" "$*" >&2; }

# A free TCP port on 127.0.0.1 (the kernel's pick; released before use).
ab_free_port() {
    "$PY3" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ab_wait_port PORT SECONDS [PID]: waits until 127.0.0.1:PORT accepts; fails if PID dies first.
ab_wait_port() {
    local port="$1" pid="${3:-}" deadline=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

# ab_check_loopback_url URL: only 127.0.0.0/8, localhost and [::1] are allowed targets.
ab_check_loopback_url() {
    "$PY3" - "$1" 2>/dev/null <<'PYEOF' || ab_die "not a ws:// URL on loopback: $1"
import sys, urllib.parse, ipaddress
u = urllib.parse.urlsplit(sys.argv[1])
assert u.scheme in ("ws", "wss") and u.port
h = u.hostname
assert h == "localhost" or ipaddress.ip_address(h).is_loopback
PYEOF
}

# ab_prepare_outdir DIR: creates DIR and removes the reports of an earlier run.
ab_prepare_outdir() {
    mkdir -p "$1"
    find "$1" -maxdepth 1 -type f \( -name 'index.json' -o -name 'index.html' -o -name '*_case_*.json' \
        -o -name '*_case_*.html' -o -name 'spec.json' -o -name 'cases.txt' -o -name '*.log' \) -delete
}

# ab_write_spec FILE JSON_PY_EXPR: writes the spec (built in Python from env AB_* variables).
ab_write_spec() {
    local file="$1"
    "$PY3" - "$file" <<'PYEOF'
import json, os, sys
cases = os.environ["AB_CASES"].split()
exclude = os.environ.get("AB_EXCLUDE", "").split()
spec = {"outdir": os.environ["AB_OUTDIR"], "cases": cases, "exclude-cases": exclude,
        "exclude-agent-cases": {}, "options": {}}
if os.environ["AB_MODE"] == "fuzzingserver":
    spec["url"] = os.environ["AB_URL"]
else:
    spec["servers"] = [{"agent": os.environ["AB_AGENT"], "url": os.environ["AB_URL"], "options": {"version": 18}}]
with open(sys.argv[1], "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PYEOF
}

# ab_stop PID: stops a background `timeout ... CMD` started by this script
# (timeout passes the signal on to its whole process group).
ab_stop() {
    local pid="$1" _
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

ab_require_wstest() {
    [ -x "$ROOT/tests/.cache/wstest/venv/bin/python" ] ||
        ab_die "wstest is not installed: run tests/peers/setup.sh wstest"
}
