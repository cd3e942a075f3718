# -*- coding: utf-8 -*-
# Python 2.7 launcher for Autobahn|Testsuite's wstest (run by tests/peers/wstest).
#
# wstest listens on 0.0.0.0 (fuzzingserver, echoserver, ...) and opens a web UI
# on port 8080 unless told `-u 0`. Tests here must listen on loopback only, so
# before wstest runs this wraps Twisted's reactor.listenTCP/listenSSL/listenUDP
# to bind WSTEST_BIND (default 127.0.0.1) whatever interface they were asked
# for, and adds `-u 0` when no web port is given.
#
# `--list-cases SPEC` prints, one a line, the case ids that SPEC's "cases"
# minus "exclude-cases" select (as wstest resolves them), and exits.
import os
import sys
import json

BIND = os.environ.get("WSTEST_BIND", "127.0.0.1")
if not (BIND.startswith("127.") or BIND in ("::1", "localhost")):
    sys.stderr.write("wstest: WSTEST_BIND=%s is not a loopback address\n" % BIND)
    sys.exit(2)


def list_cases(spec_path):
    from autobahntestsuite.caseset import CaseSet
    from autobahntestsuite.case import Cases, CaseSetname, CaseBasename, CaseCategories, CaseSubCategories
    with open(spec_path) as f:
        spec = json.load(f)
    cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
    for case_id in cs.parseSpecCases(spec):
        if case_id not in cs.CasesIndices:
            sys.stderr.write("wstest: no such case: %s\n" % case_id)
            sys.exit(2)
        sys.stdout.write(case_id + "\n")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--list-cases"]:
        if len(args) != 2:
            sys.stderr.write("usage: wstest --list-cases SPEC\n")
            sys.exit(2)
        list_cases(args[1])
        return 0

    # Importing wstest installs the reactor it wants; patch that instance.
    from autobahntestsuite import wstest
    from twisted.internet import reactor

    orig_tcp, orig_ssl, orig_udp = reactor.listenTCP, reactor.listenSSL, reactor.listenUDP

    def listenTCP(port, factory, backlog=50, interface=""):
        return orig_tcp(port, factory, backlog, BIND)

    def listenSSL(port, factory, contextFactory, backlog=50, interface=""):
        return orig_ssl(port, factory, contextFactory, backlog, BIND)

    def listenUDP(port, protocol, interface="", maxPacketSize=8192):
        return orig_udp(port, protocol, BIND, maxPacketSize)

    reactor.listenTCP, reactor.listenSSL, reactor.listenUDP = listenTCP, listenSSL, listenUDP

    if not any(a == "-u" or a.startswith("--webport") or (a.startswith("-u") and not a.startswith("--"))
               for a in args):
        args = args + ["-u", "0"]
    sys.argv = ["wstest"] + args
    return wstest.run()


if __name__ == "__main__":
    sys.exit(main())
