#!/usr/bin/env bash
# Tests a WebSocket SERVER with Autobahn|Testsuite: runs wstest in fuzzingclient
# mode against it (on loopback), then reports.
#
#   tests/autobahn/fuzzingclient.sh [options] --url ws://127.0.0.1:PORT [CASE_PATTERN...]
#   tests/autobahn/fuzzingclient.sh [options] --server-cmd 'COMMAND' [CASE_PATTERN...]
#
# CASE_PATTERNs are wstest's, e.g. '1.*' '2.*' '9.1.1' (default: '*', the whole suite).
# The server must echo every message back, on any path.
#   --url URL          a server the caller started (127.0.0.0/8, localhost or [::1] only)
#   --server-cmd CMD   or: a shell command that starts the server in the foreground on
#                      127.0.0.1:PORT, PORT given as {port} in CMD, as "$1", and in env
#                      AUTOBAHN_PORT; it is stopped when the run ends
#   --port PORT        port for --server-cmd (default: a free one)
# Options:
#   --agent NAME             agent name for the report (default: sockweave)
#   --exclude 'PATTERN ...'  cases to leave out (repeatable)
#   --outdir DIR             reports (default: tests/out/autobahn/server)
#   --timeout SECONDS        bound for wstest's whole run (default: 900)
#   --allow-unimplemented P, --allow-fail P, --details   passed on to report.py
# Exit: report.py's status (0 all passed, 1 failures), 1 if wstest failed or timed
# out, 2 on a usage or setup error.
set -euo pipefail
AB_NAME=fuzzingclient
# shellcheck source=tests/autobahn/lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AGENT="${AUTOBAHN_AGENT:-sockweave}"
OUTDIR="$ROOT/tests/out/autobahn/server"
LIMIT=900
PORT=""
URL=""
SERVER_CMD=""
EXCLUDE=()
REPORT_ARGS=()
CASES=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --url) URL="$2"; shift 2 ;;
        --server-cmd) SERVER_CMD="$2"; shift 2 ;;
        --agent) AGENT="$2"; shift 2 ;;
        --exclude) read -r -a W <<<"$2"; EXCLUDE+=("${W[@]}"); shift 2 ;;
        --outdir) OUTDIR="$2"; shift 2 ;;
        --timeout) LIMIT="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --allow-unimplemented | --allow-fail) REPORT_ARGS+=("$1" "$2"); shift 2 ;;
        --details) REPORT_ARGS+=("$1"); shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) ab_die "unknown option $1 (see --help)" ;;
        *) read -r -a W <<<"$1"; CASES+=("${W[@]}"); shift ;;
    esac
done
[ "${#CASES[@]}" -gt 0 ] || CASES=('*')
if [ -n "$URL" ] && [ -n "$SERVER_CMD" ]; then ab_die "give --url or --server-cmd, not both"; fi
if [ -z "$URL" ] && [ -z "$SERVER_CMD" ]; then ab_die "give --url URL or --server-cmd CMD (see --help)"; fi
ab_require_wstest
if [ -n "$SERVER_CMD" ]; then
    [ -n "$PORT" ] || PORT="$(ab_free_port)"
    URL="ws://127.0.0.1:$PORT"
fi
ab_check_loopback_url "$URL"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

ab_prepare_outdir "$OUTDIR"
AB_MODE=fuzzingclient AB_CASES="${CASES[*]}" AB_EXCLUDE="${EXCLUDE[*]:-}" AB_OUTDIR="$OUTDIR" AB_URL="$URL" \
    AB_AGENT="$AGENT" ab_write_spec "$OUTDIR/spec.json"
timeout 60 "$WSTEST" --list-cases "$OUTDIR/spec.json" >"$OUTDIR/cases.txt" || ab_die "bad case patterns: ${CASES[*]}"
NCASES=$(wc -l <"$OUTDIR/cases.txt")
[ "$NCASES" -gt 0 ] || ab_die "no case matches: ${CASES[*]} minus ${EXCLUDE[*]:-nothing}"

SRVPID=""
trap 'ab_stop "$SRVPID"' EXIT
T0=$SECONDS
if [ -n "$SERVER_CMD" ]; then
    CMD="${SERVER_CMD//\{port\}/$PORT}"
    ab_log "starting the server under test on 127.0.0.1:$PORT: $CMD"
    AUTOBAHN_PORT="$PORT" timeout --kill-after=10 $((LIMIT + 120)) bash -c "$CMD" autobahn-server "$PORT" \
        >"$OUTDIR/server.log" 2>&1 &
    SRVPID=$!
    if ! ab_wait_port "$PORT" 60 "$SRVPID"; then
        tail -n 30 "$OUTDIR/server.log" >&2
        ab_die "the server under test did not start listening on 127.0.0.1:$PORT"
    fi
else
    PORT="$("$PY3" -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port)' "$URL")"
    HOST="$("$PY3" -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$URL")"
    if [ "$HOST" = 127.0.0.1 ] || [ "$HOST" = localhost ]; then
        ab_wait_port "$PORT" 60 || ab_die "nothing listens on $URL"
    fi
fi

ab_log "wstest fuzzingclient -> $URL: $NCASES cases (${CASES[*]}${EXCLUDE:+ minus ${EXCLUDE[*]}}), reports in ${OUTDIR#"$ROOT"/} (bounded: ${LIMIT}s)"
T1=$SECONDS
RC=0
(cd "$OUTDIR" && exec timeout --kill-after=10 "$LIMIT" "$WSTEST" -m fuzzingclient -s "$OUTDIR/spec.json") \
    >"$OUTDIR/wstest.log" 2>&1 || RC=$?
WS_SECS=$((SECONDS - T1))
ab_stop "$SRVPID"
SRVPID=""
if [ "$RC" -eq 124 ]; then
    ab_log "wstest TIMED OUT after ${LIMIT}s"
elif [ "$RC" -ne 0 ]; then
    tail -n 20 "$OUTDIR/wstest.log" >&2
    ab_log "wstest exited with status $RC"
fi
if [ ! -f "$OUTDIR/index.json" ]; then
    ab_log "no index.json in ${OUTDIR#"$ROOT"/}"
    echo "REPORT autobahn $AGENT (server): FAIL: no report (${WS_SECS}s)"
    exit 1
fi
REPORT_RC=0
"$PY3" "$AB_HERE/report.py" --agent "$AGENT" --expect-cases "$OUTDIR/cases.txt" \
    ${REPORT_ARGS[@]+"${REPORT_ARGS[@]}"} "$OUTDIR/index.json" || REPORT_RC=$?
echo "REPORT autobahn $AGENT (server): $NCASES cases in ${WS_SECS}s (total $((SECONDS - T0))s)"
[ "$RC" -eq 0 ] || exit 1
exit "$REPORT_RC"
