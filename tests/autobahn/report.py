#!/usr/bin/env python3
"""Summarise an Autobahn|Testsuite report (index.json) and fail on bad cases.

    report.py [options] INDEX_JSON_OR_OUTDIR

index.json is {agent: {case_id: {"behavior", "behaviorClose", "duration",
"remoteCloseCode", "reportfile"}}}. A case passes when its behavior is OK,
NON-STRICT or INFORMATIONAL and its behaviorClose is OK or INFORMATIONAL.
Anything else fails (FAILED, UNIMPLEMENTED, WRONG CODE, ...), unless an option
below allows it. Exit status: 0 when every case of every reported agent passes
(or is allowed), 1 when some case fails, 2 on a usage or input error.

Lines that start with "REPORT " are a one-line summary per agent, for CI logs.
"""
import argparse
import fnmatch
import json
import os
import sys
from collections import Counter

PASS_BEHAVIOR = {"OK", "NON-STRICT", "INFORMATIONAL"}
PASS_CLOSE = {"OK", "INFORMATIONAL"}


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def matches(case_id, patterns):
    return any(fnmatch.fnmatchcase(case_id, p) for p in patterns)


def case_detail(outdir, entry):
    """The case's own report (reportfile) tells what went wrong: its "result"."""
    name = entry.get("reportfile")
    if not name:
        return ""
    path = os.path.join(outdir, name)
    if not os.path.isfile(path):
        return ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return ""
    parts = []
    if data.get("description"):
        parts.append(" ".join(str(data["description"]).split())[:140])
    if data.get("result"):
        parts.append("result: " + " ".join(str(data["result"]).split())[:200])
    if data.get("resultClose"):
        parts.append("close: " + " ".join(str(data["resultClose"]).split())[:200])
    return "\n          ".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", help="index.json, or the spec's outdir holding it")
    ap.add_argument("--agent", action="append", default=[],
                    help="agent to report (repeatable; default: every agent in index.json)")
    ap.add_argument("--allow-unimplemented", action="append", default=[], metavar="PATTERN",
                    help="case ids (fnmatch, e.g. '12.*') whose behavior may be UNIMPLEMENTED "
                         "(e.g. deflate cases before deflate exists)")
    ap.add_argument("--allow-fail", action="append", default=[], metavar="PATTERN",
                    help="case ids (fnmatch) known to fail for this peer: listed, not counted as failures")
    ap.add_argument("--expect-cases", metavar="FILE",
                    help="file with the case ids that must all be in the report, one a line "
                         "(tests/peers/wstest --list-cases SPEC); a missing one fails")
    ap.add_argument("--details", action="store_true",
                    help="for each failing case, add the description and result from its own report file")
    args = ap.parse_args(argv)

    path = args.index
    if os.path.isdir(path):
        path = os.path.join(path, "index.json")
    outdir = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except OSError as e:
        print(f"report.py: cannot read {path}: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"report.py: {path} is not JSON: {e}", file=sys.stderr)
        return 2
    if not isinstance(index, dict) or not index:
        print(f"report.py: {path} has no agents", file=sys.stderr)
        return 2

    expected = None
    if args.expect_cases:
        with open(args.expect_cases, encoding="utf-8") as f:
            expected = [line.strip() for line in f if line.strip()]

    agents = args.agent or sorted(index)
    bad_total = 0
    for agent in agents:
        if agent not in index:
            print(f"report.py: agent {agent!r} not in {path} (agents: {', '.join(sorted(index)) or 'none'})",
                  file=sys.stderr)
            bad_total += 1
            print(f"REPORT autobahn {agent}: no results")
            continue
        cases = index[agent]
        behaviors = Counter()
        closes = Counter()
        failing, allowed, unimpl_allowed = [], [], []
        for cid in sorted(cases, key=case_key):
            e = cases[cid]
            b = e.get("behavior", "?")
            bc = e.get("behaviorClose", "?")
            behaviors[b] += 1
            closes[bc] += 1
            if b in PASS_BEHAVIOR and bc in PASS_CLOSE:
                continue
            if b == "UNIMPLEMENTED" and matches(cid, args.allow_unimplemented):
                unimpl_allowed.append(cid)
            elif matches(cid, args.allow_fail):
                allowed.append((cid, e))
            else:
                failing.append((cid, e))
        missing = []
        if expected is not None:
            missing = [c for c in expected if c not in cases]

        print(f"Autobahn report for agent {agent!r}: {len(cases)} cases ({path})")
        print("  behavior:      " + ", ".join(f"{k} {v}" for k, v in sorted(behaviors.items())))
        print("  behaviorClose: " + ", ".join(f"{k} {v}" for k, v in sorted(closes.items())))
        if unimpl_allowed:
            print(f"  UNIMPLEMENTED, allowed ({len(unimpl_allowed)}): {compress(unimpl_allowed)}")
        for title, rows in (("known failures, allowed", allowed), ("FAILING", failing)):
            if not rows:
                continue
            print(f"  {title} ({len(rows)}):")
            for cid, e in rows:
                print(f"    {cid:<10} behavior={e.get('behavior')} close={e.get('behaviorClose')} "
                      f"remoteCloseCode={e.get('remoteCloseCode')} ({e.get('duration', '?')} ms)")
                if args.details:
                    d = case_detail(outdir, e)
                    if d:
                        print("          " + d)
        if missing:
            print(f"  MISSING from the report ({len(missing)} of {len(expected)} expected): {compress(missing)}")
        bad = len(failing) + len(missing)
        bad_total += bad
        verdict = "PASS" if bad == 0 else "FAIL"
        extra = []
        if allowed:
            extra.append(f"{len(allowed)} known failures allowed")
        if unimpl_allowed:
            extra.append(f"{len(unimpl_allowed)} unimplemented allowed")
        if missing:
            extra.append(f"{len(missing)} missing")
        print(f"REPORT autobahn {agent}: {verdict}: {len(cases)} cases, "
              f"{len(cases) - len(failing) - len(allowed) - len(unimpl_allowed)} passed, {len(failing)} failed"
              + (f" ({'; '.join(extra)})" if extra else ""))
    return 1 if bad_total else 0


def compress(ids, limit=40):
    s = " ".join(ids[:limit])
    return s + (f" ... (+{len(ids) - limit})" if len(ids) > limit else "")


if __name__ == "__main__":
    sys.exit(main())
