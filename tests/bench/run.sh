#!/usr/bin/env bash
# The benchmark suite of issue 9, in one command:
#
#   tests/bench/run.sh            full run (5 repetitions of 1 s per contender, ~18 minutes)
#   tests/bench/run.sh --quick    CI run (3 repetitions of 0.4 s, under ~3 minutes)
#
# 1. `sockweave-bench run` (the bench/ crate): sockweave against tokio-tungstenite,
#    fastwebsockets and tokio-websockets, each as server under the neutral load
#    client and as client against the neutral echo server (separate processes,
#    pinned to different cores with taskset); echo at 16 B..1 MiB, pipelined
#    16 B and 1 KiB, 1,000 connections, permessage-deflate on JSON-like text,
#    idle memory at 10,000 connections, masking GB/s; in full runs also the
#    profiles (instructions per message with valgrind's callgrind, system
#    calls per message with strace, for every contender and role; about 8
#    minutes; `--no-profile` skips them).
# 2. The Node comparison, the npm package against `ws` (tests/npm/bench.js),
#    if the npm package is built (tests/npm/run.sh build, i.e. npm/build.sh)
#    and `ws` is installed (tests/peers/setup.sh node); otherwise it says so.
# 3. The wasm file size, raw and gzipped.
#
# Writes tests/bench/results.md (tables, machine, date, targets met or missed)
# and tests/bench/chart.svg; prints the table and `REPORT ` lines. Binds
# 127.0.0.1 only. Extra arguments go to `sockweave-bench run` (for example
# `--only "echo 16 B"`, `--reps 3`, `--secs 0.5`, `--conns 2000`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

QUICK=0
for a in "$@"; do [ "$a" = "--quick" ] && QUICK=1; done

command -v taskset >/dev/null || echo "note: taskset (util-linux) is missing; processes will not be pinned" >&2
# 10,000 idle connections need that many descriptors in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10100 ]; then
    echo "note: ulimit -n is $(ulimit -n); the idle-memory scenario uses fewer connections" >&2
    set -- "$@" --conns $(( $(ulimit -n) - 100 ))
fi

# The suite runs `sockweave serve --echo` (the command as shipped) beside the library servers.
cargo build --release -p sockweave-bench -p sockweave --bins
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$TARGET_DIR/release/sockweave-bench" run --out "$HERE" "$@"

RESULTS="$HERE/results.md"
{
    echo
    echo "## Node: the npm package vs ws"
    echo
} >>"$RESULTS"
WASM=npm/dist/sockweave_wasm_bg.wasm
if [ -f "$WASM" ] && [ -f npm/dist/sockweave_wasm.js ] && [ -d tests/peers/node/node_modules/ws ] && command -v node >/dev/null; then
    SECS=1
    [ "$QUICK" = 1 ] && SECS=0.4
    if NODE_OUT="$(timeout 300 node tests/npm/bench.js "$SECS" 2>&1)"; then
        echo "$NODE_OUT"
        {
            echo "\`node tests/npm/bench.js $SECS\` (client and server of one library in one Node process, 16 in flight; ratio = sockweave / ws):"
            echo
            echo "$NODE_OUT" | grep '^REPORT' | sed 's/^REPORT /- /'
        } >>"$RESULTS"
    else
        echo "$NODE_OUT" >&2
        echo "REPORT npm benchmark failed"
        echo "- the npm benchmark failed: $(echo "$NODE_OUT" | tail -1)" >>"$RESULTS"
    fi
else
    echo "REPORT npm benchmark skipped: build the package first (tests/npm/run.sh build) and install ws (tests/peers/setup.sh node)"
    echo "- skipped: npm/dist is not built or ws is not installed (tests/npm/run.sh build; tests/peers/setup.sh node)" >>"$RESULTS"
fi

echo >>"$RESULTS"
echo "## wasm size" >>"$RESULTS"
echo >>"$RESULTS"
if [ -f "$WASM" ]; then
    RAW=$(stat -c %s "$WASM")
    GZ=$(gzip -9 -c "$WASM" | wc -c)
    echo "REPORT wasm size: $RAW bytes raw, $GZ bytes gzipped ($WASM)"
    echo "- $WASM: $RAW bytes raw, $GZ bytes gzipped (gzip -9)" >>"$RESULTS"
else
    echo "REPORT wasm size: n/a (npm/dist not built)"
    echo "- n/a: npm/dist is not built (npm/build.sh)" >>"$RESULTS"
fi
echo "results: $RESULTS, chart: $HERE/chart.svg"
