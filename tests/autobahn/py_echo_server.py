#!/usr/bin/env python3
"""Echo server on the Python `websockets` library (a harness self-test peer).

    py_echo_server.py PORT [SECONDS]

Listens on 127.0.0.1:PORT only, echoes every message on any path, and exits by
itself after SECONDS (default 900).
"""
import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


async def echo(ws):
    try:
        async for msg in ws:
            await ws.send(msg)
    except ConnectionClosed:
        pass


async def main():
    port = int(sys.argv[1])
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 900.0
    async with serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None, close_timeout=10):
        print(f"py_echo_server: listening on 127.0.0.1:{port}", flush=True)
        await asyncio.sleep(limit)


if __name__ == "__main__":
    asyncio.run(main())
