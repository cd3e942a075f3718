#!/usr/bin/env bash
# Autobahn|Testsuite against sockweave's native backend, both roles.
#
#   tests/autobahn/sockweave.sh quick    1.*-10.* in full, and a sample of every 12.x and 13.x group
#   tests/autobahn/sockweave.sh full     the whole suite (about 8 minutes a role here)
#   tests/autobahn/sockweave.sh CASE...  the given case patterns
#
# Client role: wstest's fuzzingserver drives `sockweave autobahn`. Server role:
# wstest's fuzzingclient against `sockweave serve --echo --deflate`. Each role's
# report is checked by report.py: every case must end OK, NON-STRICT or
# INFORMATIONAL (and its close OK or INFORMATIONAL).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN="$ROOT/target/release/sockweave"
cargo build --release -p sockweave --bin sockweave >/dev/null

BASIC=('1.*' '2.*' '3.*' '4.*' '5.*' '6.*' '7.*' '9.*' '10.*')
# One small and one large message size from every 12.x and 13.x group.
SAMPLE=()
for g in 1 2 3 4 5; do SAMPLE+=("12.$g.1" "12.$g.17"); done
for g in 1 2 3 4 5 6 7; do SAMPLE+=("13.$g.1" "13.$g.17"); done
case "${1:-quick}" in
    quick) CASES=("${BASIC[@]}" "${SAMPLE[@]}") ;;
    full) CASES=('*') ;;
    *) CASES=("$@") ;;
esac

rc=0
bash tests/autobahn/fuzzingserver.sh --agent sockweave-client --timeout 1500 "${CASES[@]}" -- \
    "$BIN" autobahn '{url}' --agent '{agent}' --deflate || rc=1
bash tests/autobahn/fuzzingclient.sh --agent sockweave-server --timeout 1500 \
    --server-cmd "'$BIN' serve 127.0.0.1:{port} --echo --deflate" "${CASES[@]}" || rc=1
exit $rc
