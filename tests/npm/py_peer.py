"""Python `websockets` peers for the npm package's interop test.

  py_peer.py server PORT deflate|plain   echo server on 127.0.0.1:PORT; prints "ready"
  py_peer.py client URL deflate|plain    sends messages to an echo server, checks the echoes,
                                         closes with 1000; prints "ok N"
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


def compression(mode):
    return "deflate" if mode == "deflate" else None


async def run_server(port, mode):
    async def echo(ws):
        async for m in ws:
            await ws.send(m)

    async with serve(echo, "127.0.0.1", port, max_size=None, compression=compression(mode),
                     select_subprotocol=lambda ws, offered: "chat" if "chat" in offered else None):
        print("ready", flush=True)
        await asyncio.Future()


async def run_client(url, mode):
    messages = ["hello", "", "héllo wörld ✓", "x" * 300000, os.urandom(100000), b"\x00\x01"]
    async with connect(url, max_size=None, compression=compression(mode), subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat", ws.subprotocol
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert ("permessage-deflate" in ext) == (mode == "deflate"), ext
        for m in messages:
            await ws.send(m)
            got = await ws.recv()
            assert got == m, "echo differs for a %d-long %s" % (len(m), type(m).__name__)
        await ws.close(1000, "py done")
    print("ok %d" % len(messages), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(run_server(int(sys.argv[2]), sys.argv[3]))
    else:
        asyncio.run(run_client(sys.argv[2], sys.argv[3]))
