#!/usr/bin/env bash
# Tests a WebSocket CLIENT with Autobahn|Testsuite: starts wstest in fuzzingserver
# mode on 127.0.0.1, runs the client under test against it, then reports.
#
#   tests/autobahn/fuzzingserver.sh [options] [CASE_PATTERN...] -- CLIENT_COMMAND [ARG...]
#   CLIENT_CMD='shell command' tests/autobahn/fuzzingserver.sh [options] [CASE_PATTERN...]
#
# CASE_PATTERNs are wstest's, e.g. '1.*' '2.*' '9.1.1' (default: '*', the whole suite).
# The client gets the server's URL and the agent name in the environment
# (AUTOBAHN_URL=ws://127.0.0.1:PORT, AUTOBAHN_AGENT=NAME), and in place of any
# argument written {url} or {agent}; with CLIENT_CMD, also as "$1" and "$2". It
# must fetch /getCaseCount, run /runCase?case=N&agent=NAME for N = 1..count
# (echoing every message back), then call /updateReports?agent=NAME.
#
# Options:
#   --agent NAME             agent name for the report (default: sockweave)
#   --exclude 'PATTERN ...'  cases to leave out (repeatable)
#   --outdir DIR             reports (default: tests/out/autobahn/client)
#   --timeout SECONDS        bound for the client's whole run (default: 900)
#   --port PORT              server port (default: a free one)
#   --allow-unimplemented P, --allow-fail P, --details   passed on to report.py
# Exit: report.py's status (0 all passed, 1 failures), 1 if the client failed or
# timed out, 2 on a usage or setup error.
set -euo pipefail
AB_NAME=fuzzingserver
# shellcheck source=tests/autobahn/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AGENT="${AUTOBAHN_AGENT:-sockweave}"
OUTDIR="$ROOT/tests/out/autobahn/client"
LIMIT=900
PORT=""
EXCLUDE=()
REPORT_ARGS=()
CASES=()
CLIENT=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --agent) AGENT="$2"; shift 2 ;;
        --exclude) read -r -a W <<<"$2"; EXCLUDE+=("${W[@]}"); shift 2 ;;
        --outdir) OUTDIR="$2"; shift 2 ;;
        --timeout) LIMIT="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --allow-unimplemented | --allow-fail) REPORT_ARGS+=("$1" "$2"); shift 2 ;;
        --details) REPORT_ARGS+=("$1"); shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --) shift; CLIENT=("$@"); break ;;
        -*) ab_die "unknown option $1 (see --help)" ;;
        *) read -r -a W <<<"$1"; CASES+=("${W[@]}"); shift ;;
    esac
done
[ "${#CASES[@]}" -gt 0 ] || CASES=('*')
if [ "${#CLIENT[@]}" -eq 0 ]; then
    [ -n "${CLIENT_CMD:-}" ] || ab_die "no client command: give it after -- or in CLIENT_CMD"
fi
ab_require_wstest
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
[ -n "$PORT" ] || PORT="$(ab_free_port)"
URL="ws://127.0.0.1:$PORT"

ab_prepare_outdir "$OUTDIR"
AB_MODE=fuzzingserver AB_CASES="${CASES[*]}" AB_EXCLUDE="${EXCLUDE[*]:-}" AB_OUTDIR="$OUTDIR" AB_URL="$URL" \
    AB_AGENT="$AGENT" ab_write_spec "$OUTDIR/spec.json"
timeout 60 "$WSTEST" --list-cases "$OUTDIR/spec.json" >"$OUTDIR/cases.txt" || ab_die "bad case patterns: ${CASES[*]}"
NCASES=$(wc -l <"$OUTDIR/cases.txt")
[ "$NCASES" -gt 0 ] || ab_die "no case matches: ${CASES[*]} minus ${EXCLUDE[*]:-nothing}"

WSPID=""
trap 'ab_stop "$WSPID"' EXIT
T0=$SECONDS
ab_log "wstest fuzzingserver on $URL: $NCASES cases (${CASES[*]}${EXCLUDE:+ minus ${EXCLUDE[*]}}), reports in ${OUTDIR#"$ROOT"/}"
(cd "$OUTDIR" && exec timeout --kill-after=10 $((LIMIT + 120)) "$WSTEST" -m fuzzingserver -s "$OUTDIR/spec.json") \
    >"$OUTDIR/wstest.log" 2>&1 &
WSPID=$!
if ! ab_wait_port "$PORT" 60 "$WSPID"; then
    tail -n 30 "$OUTDIR/wstest.log" >&2
    ab_die "wstest fuzzingserver did not start listening on 127.0.0.1:$PORT"
fi
ab_log "server up after $((SECONDS - T0))s; running the client (bounded: ${LIMIT}s)"

T1=$SECONDS
RC=0
export AUTOBAHN_URL="$URL" AUTOBAHN_AGENT="$AGENT"
if [ "${#CLIENT[@]}" -gt 0 ]; then
    ARGS=()
    for a in "${CLIENT[@]}"; do
        a="${a//\{url\}/$URL}"
        ARGS+=("${a//\{agent\}/$AGENT}")
    done
    timeout --kill-after=10 "$LIMIT" "${ARGS[@]}" || RC=$?
else
    timeout --kill-after=10 "$LIMIT" bash -c "$CLIENT_CMD" autobahn-client "$URL" "$AGENT" || RC=$?
fi
CLIENT_SECS=$((SECONDS - T1))
ab_stop "$WSPID"
WSPID=""
if [ "$RC" -eq 124 ]; then
    ab_log "client TIMED OUT after ${LIMIT}s"
elif [ "$RC" -ne 0 ]; then
    ab_log "client exited with status $RC"
fi
if [ ! -f "$OUTDIR/index.json" ]; then
    tail -n 20 "$OUTDIR/wstest.log" >&2
    ab_log "no index.json in ${OUTDIR#"$ROOT"/}: the client never called /updateReports?agent=$AGENT"
    echo "REPORT autobahn $AGENT (client): FAIL: no report (${CLIENT_SECS}s)"
    exit 1
fi
REPORT_RC=0
"$PY3" "$AB_HERE/report.py" --agent "$AGENT" --expect-cases "$OUTDIR/cases.txt" \
    ${REPORT_ARGS[@]+"${REPORT_ARGS[@]}"} "$OUTDIR/index.json" || REPORT_RC=$?
echo "REPORT autobahn $AGENT (client): $NCASES cases in ${CLIENT_SECS}s (total $((SECONDS - T0))s)"
[ "$RC" -eq 0 ] || exit 1
exit "$REPORT_RC"
