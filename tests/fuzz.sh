#!/usr/bin/env bash
# Fuzzes sockweave-core with cargo-fuzz (libFuzzer); the targets live in fuzz/.
#
#   tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 20; no TARGET means every target. For each
# target, one after another (never in parallel):
#   1. every file under fuzz/regressions/<target>/ is replayed once;
#   2. the target runs for SECONDS_PER_TARGET on a temporary copy of its seeds
#      fuzz/corpus/<target>/, so the repository's corpus stays as it is;
#   3. its executions, exec/s and corpus size (from libFuzzer's final stats)
#      are printed, with the input and panic message of any crash.
# Exits non-zero if the build fails, a regression input still crashes, or a
# target crashes (panic, sanitizer report, timeout or out-of-memory).
#
# Environment:
#   FUZZ_UPDATE_CORPUS=1   merge what the runs found into fuzz/corpus/<target>/
#                          (libFuzzer -merge=1: only inputs with new coverage)
#   FUZZ_SANITIZER=NAME    address (the default) or none; if an AddressSanitizer
#                          build does not build or run here, none is used
#   FUZZ_TIMEOUT=N         seconds one input may take before it counts as a hang (10)
#   FUZZ_RSS_LIMIT_MB=N    memory limit of a target (2048)
#   SOCKWEAVE_FUZZ_ALLOW=  known engine issues the session targets tolerate so a
#                          run can look past them, comma-separated (e.g.
#                          deflate-final-block,deflate-stale-none); see
#                          fuzz/regressions/README.md. Unset: nothing is tolerated.
#
# Debug assertions and overflow checks are always on (cargo fuzz -a). cargo-fuzz
# needs nightly `-Z` flags; RUSTC_BOOTSTRAP=1 lets a stable toolchain take them.
# Crash inputs are written to fuzz/artifacts/<target>/ and logs to
# fuzz/target/fuzz-logs/ (both ignored by git). To keep a crash as a
# regression, copy its file to fuzz/regressions/<target>/.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The fuzz package has its own workspace and target directory (fuzz/target).
unset CARGO_TARGET_DIR

SECS="${1:-20}"
[ $# -gt 0 ] && shift
if ! [[ "$SECS" =~ ^[0-9]+$ ]]; then
    echo "usage: tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
TIMEOUT="${FUZZ_TIMEOUT:-10}"
RSS_LIMIT="${FUZZ_RSS_LIMIT_MB:-2048}"
LOGS="$FUZZ/target/fuzz-logs"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz || { echo "cannot install cargo-fuzz" >&2; exit 1; }
fi

cd "$FUZZ" || exit 1
mapfile -t ALL < <(cargo fuzz list 2>/dev/null)
if [ "${#ALL[@]}" -eq 0 ]; then
    echo "no fuzz targets found in $FUZZ" >&2
    exit 1
fi
if [ $# -gt 0 ]; then
    TARGETS=("$@")
    for t in "${TARGETS[@]}"; do
        if [[ ! " ${ALL[*]} " == *" $t "* ]]; then
            echo "unknown fuzz target '$t' (targets: ${ALL[*]})" >&2
            exit 2
        fi
    done
else
    TARGETS=("${ALL[@]}")
fi

HOST="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="$FUZZ/target/$HOST/release"
mkdir -p "$LOGS"

# build SANITIZER: builds every target; on success the binaries are in $BIN_DIR.
build() {
    echo "==> cargo fuzz build --sanitizer $1 --debug-assertions"
    cargo fuzz build --sanitizer "$1" --debug-assertions >"$LOGS/build.log" 2>&1
}

SANITIZER="${FUZZ_SANITIZER:-address}"
if ! build "$SANITIZER"; then
    tail -n 30 "$LOGS/build.log"
    if [ "$SANITIZER" = none ]; then
        echo "FAILED: the fuzz targets do not build" >&2
        exit 1
    fi
    echo "the $SANITIZER-sanitizer build failed; building without a sanitizer"
    SANITIZER=none
    build none || { tail -n 30 "$LOGS/build.log"; echo "FAILED: the fuzz targets do not build" >&2; exit 1; }
fi
# A sanitizer runtime can build and still not start on some kernels.
if [ "$SANITIZER" != none ] && ! "$BIN_DIR/${TARGETS[0]}" -runs=0 >"$LOGS/smoke.log" 2>&1; then
    tail -n 10 "$LOGS/smoke.log"
    echo "the $SANITIZER-sanitizer build does not run here; building without a sanitizer"
    SANITIZER=none
    build none || { tail -n 30 "$LOGS/build.log"; echo "FAILED: the fuzz targets do not build" >&2; exit 1; }
fi
echo "sanitizer: $SANITIZER, debug assertions on, ${SECS}s per target, targets: ${TARGETS[*]}"
[ -n "${SOCKWEAVE_FUZZ_ALLOW:-}" ] && echo "tolerating known engine issues: $SOCKWEAVE_FUZZ_ALLOW"

# show_crash LOG ARTIFACT...: the panic or sanitizer message, and each input in hex.
show_crash() {
    local log="$1" f
    shift
    # The panic message (up to its backtrace), or the sanitizer's first lines.
    awk '/panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)/ && !n { n = 1 }
         n && /^stack backtrace:/ { exit }
         n && n++ <= 8 { print "    " $0 }' "$log"
    for f in "$@"; do
        [ -f "$f" ] || continue
        echo "    input ${f#"$ROOT"/} ($(wc -c <"$f") bytes), hex:"
        od -An -v -tx1 "$f" | tr -d ' \n' | fold -w 96 | head -n 20 | sed 's/^/      /'
        echo
    done
}

FAILED=()
SUMMARY=()
for t in "${TARGETS[@]}"; do
    bin="$BIN_DIR/$t"
    art="$FUZZ/artifacts/$t"
    mkdir -p "$art"
    opts=(-timeout="$TIMEOUT" -rss_limit_mb="$RSS_LIMIT" -artifact_prefix="$art/")

    # 1. Known crashes stay fixed.
    reg_failed=0
    if [ -d "$FUZZ/regressions/$t" ]; then
        while IFS= read -r -d '' f; do
            if ! "$bin" "${opts[@]}" "$f" >"$LOGS/$t.replay.log" 2>&1; then
                echo "!!  $t: regression input still crashes: ${f#"$ROOT"/}"
                show_crash "$LOGS/$t.replay.log" "$f"
                reg_failed=1
            fi
        done < <(find "$FUZZ/regressions/$t" -type f ! -name '.*' ! -name '*.md' -print0 | sort -z)
    fi
    if [ $reg_failed -ne 0 ]; then
        FAILED+=("$t")
        SUMMARY+=("$(printf '%-26s regression input crashes' "$t")")
        continue
    fi

    # 2. Fuzz on a copy of the seeds.
    work="$(mktemp -d "${TMPDIR:-/tmp}/sockweave-fuzz-$t.XXXXXX")"
    cp -r "$FUZZ/corpus/$t/." "$work/" 2>/dev/null || true
    before="$(find "$art" -type f | sort)"
    log="$LOGS/$t.log"
    t0=$(date +%s)
    timeout --kill-after=30 $((SECS + 300)) \
        "$bin" "${opts[@]}" -max_total_time="$SECS" -print_final_stats=1 "$work" >"$log" 2>&1
    rc=$?
    dt=$(( $(date +%s) - t0 ))
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
    added="$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n1)"
    rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n1)"
    corpus="$(find "$work" -type f | wc -l)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -n1 | cut -d' ' -f2)"
    line="$(printf '%-26s %5ss  %10s execs  %7s exec/s  corpus %5s (+%s)  cov %s  rss %sMB' \
        "$t" "$dt" "${execs:-?}" "${rate:-?}" "$corpus" "${added:-?}" "${cov:-?}" "${rss:-?}")"
    if [ $rc -eq 0 ]; then
        echo "ok  $line"
        SUMMARY+=("$line")
    else
        echo "!!  $line  CRASHED (exit $rc), log ${log#"$ROOT"/}"
        mapfile -t new < <(comm -13 <(echo "$before") <(find "$art" -type f | sort))
        show_crash "$log" "${new[@]}"
        FAILED+=("$t")
        SUMMARY+=("$line  CRASHED")
    fi

    # 3. Optionally keep what was found.
    if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ] && [ $rc -eq 0 ]; then
        before_n="$(find "$FUZZ/corpus/$t" -type f | wc -l)"
        "$bin" -merge=1 "${opts[@]}" "$FUZZ/corpus/$t" "$work" >"$LOGS/$t.merge.log" 2>&1 ||
            echo "    merge into fuzz/corpus/$t failed, see ${LOGS#"$ROOT"/}/$t.merge.log"
        # libFuzzer names inputs by their SHA-1, which fuzz/.gitignore ignores.
        for f in "$FUZZ/corpus/$t"/*; do
            b="$(basename "$f")"
            [[ "$b" =~ ^[0-9a-f]{40}$ ]] && mv "$f" "$FUZZ/corpus/$t/found-${b:0:16}"
        done
        echo "    fuzz/corpus/$t: $before_n -> $(find "$FUZZ/corpus/$t" -type f | wc -l) files"
    fi
    rm -rf "$work"
done

echo
echo "== fuzz summary (sanitizer $SANITIZER)"
printf 'REPORT fuzz %s\n' "${SUMMARY[@]}"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "FAILED: ${FAILED[*]}"
    exit 1
fi
echo "all ${#TARGETS[@]} targets ran without a crash"
