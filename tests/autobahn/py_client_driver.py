#!/usr/bin/env python3
"""Autobahn fuzzingserver driver for the Python `websockets` client (a harness self-test peer).

    py_client_driver.py [URL [AGENT]]     (default: $AUTOBAHN_URL, $AUTOBAHN_AGENT)

Fetches /getCaseCount, runs /runCase?case=N&agent=AGENT for every case echoing
every message back, then calls /updateReports?agent=AGENT. Each case is bounded
in time (CASE_TIMEOUT seconds, default 60). Exit 0 when the run completed
(the verdicts are in the report, not in this exit status).
"""
import asyncio
import os
import sys
import time
import urllib.parse

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

CASE_TIMEOUT = float(os.environ.get("CASE_TIMEOUT", "60"))
OPTS = dict(max_size=None, ping_interval=None, open_timeout=20, close_timeout=10)


async def get_case_count(url):
    async with connect(f"{url}/getCaseCount", **OPTS) as ws:
        return int(await ws.recv())


async def run_case(url, n, agent):
    uri = f"{url}/runCase?case={n}&agent={urllib.parse.quote(agent)}"
    async with connect(uri, **OPTS) as ws:
        async for msg in ws:
            await ws.send(msg)


async def update_reports(url, agent):
    async with connect(f"{url}/updateReports?agent={urllib.parse.quote(agent)}", **OPTS) as ws:
        async for _ in ws:
            pass


async def main():
    url = (sys.argv[1] if len(sys.argv) > 1 else os.environ["AUTOBAHN_URL"]).rstrip("/")
    agent = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AUTOBAHN_AGENT", "websockets")
    count = await get_case_count(url)
    print(f"py_client_driver: {count} cases from {url} as agent {agent!r}", flush=True)
    t0 = time.monotonic()
    for n in range(1, count + 1):
        try:
            await asyncio.wait_for(run_case(url, n, agent), CASE_TIMEOUT)
        except (ConnectionClosed, WebSocketException, OSError, asyncio.TimeoutError) as e:
            # Expected for many cases (the peer fails the connection); the report judges.
            if isinstance(e, asyncio.TimeoutError):
                print(f"py_client_driver: case {n} timed out after {CASE_TIMEOUT}s", flush=True)
    await asyncio.wait_for(update_reports(url, agent), 120)
    print(f"py_client_driver: ran {count} cases in {time.monotonic() - t0:.1f}s, reports updated", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
