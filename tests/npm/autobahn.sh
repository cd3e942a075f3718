#!/usr/bin/env bash
# Autobahn|Testsuite against the npm package, both roles (npm/ must be built).
#
#   tests/npm/autobahn.sh quick    1.*-10.* in full, and a sample of every 12.x and 13.x group
#   tests/npm/autobahn.sh full     the whole suite
#   tests/npm/autobahn.sh CASE...  the given case patterns
#
# Client role: wstest's fuzzingserver drives tests/npm/autobahn_client.js.
# Server role: wstest's fuzzingclient against tests/npm/autobahn_server.js
# (node:http + acceptUpgrade, deflate on). Reports go to
# tests/out/autobahn/npm-client and npm-server, checked by tests/autobahn/report.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -f npm/dist/sockweave_wasm_bg.wasm ] || bash npm/build.sh

BASIC=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*')
SAMPLE=()
for g in 1 2 3 4 5; do SAMPLE+=("12.$g.1" "12.$g.17"); done
for g in 1 2 3 4 5 6 7; do SAMPLE+=("13.$g.1" "13.$g.17"); done
case "${1:-quick}" in
    quick) CASES=("${BASIC[@]}" "${SAMPLE[@]}") ;;
    full) CASES=('*') ;;
    *) CASES=("$@") ;;
esac

rc=0
bash tests/autobahn/fuzzingserver.sh --agent sockweave-npm-client --timeout 1500 \
    --outdir tests/out/autobahn/npm-client "${CASES[@]}" -- \
    node "$ROOT/tests/npm/autobahn_client.js" '{url}' '{agent}' || rc=1
bash tests/autobahn/fuzzingclient.sh --agent sockweave-npm-server --timeout 1500 \
    --outdir tests/out/autobahn/npm-server \
    --server-cmd "node '$ROOT/tests/npm/autobahn_server.js' {port}" "${CASES[@]}" || rc=1
exit $rc
