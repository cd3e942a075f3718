"""Python `websockets` peers for the interop test.

  echo_peers.py server PORT [CERT KEY]   echo server (TLS with CERT/KEY); subprotocols chat and
                                         superchat; on /info it first sends "<subprotocol>|<X-Test>"
  echo_peers.py client URL [CA]          the client suite against an echo server (CA: trust it)
  echo_peers.py push PORT                a server that sends messages, checks that the client
                                         echoes them, then closes with 1000 (for `connect --echo`)
"""
import asyncio
import os
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve


async def run_server(port, cert=None, key=None):
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    async def echo(ws):
        if ws.request.path == "/info":
            await ws.send("%s|%s" % (ws.subprotocol, ws.request.headers.get("X-Test", "")))
        async for m in ws:
            await ws.send(m)

    def select(ws, offered):
        # Prefer chat; a client that offers none gets none (websockets would refuse it).
        return next((p for p in ("chat", "superchat") if p in offered), None)

    async with serve(echo, "127.0.0.1", port, ssl=ctx, select_subprotocol=select,
                     max_size=None, compression=None):
        print("ready", flush=True)
        await asyncio.Future()


async def run_client(url, ca=None):
    ctx = None
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
    async with connect(url, ssl=ctx, max_size=None, compression=None) as ws:
        cases = [b"", b"x", os.urandom(125), os.urandom(126), os.urandom(65535), os.urandom(65536),
                 os.urandom(1 << 20), "héllo ✓", "t" * 100000]
        for m in cases:
            await ws.send(m)
            back = await ws.recv()
            assert back == m, ("echo differs", type(m), len(m))
        # A fragmented message.
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        await ws.close(1000, "done")
        assert ws.close_code == 1000, ws.close_code
    print("ok %d messages, ping, fragmented, close 1000" % (len(cases) + 1), flush=True)


async def run_push(port):
    done = asyncio.get_running_loop().create_future()

    async def push(ws):
        try:
            for m in ["one", b"\x00\x01two", "three ✓", "x" * 100000]:
                await ws.send(m)
                assert await ws.recv() == m, "echo differs"
            await ws.close(1000, "bye")
            done.set_result("echoes ok")
        except Exception as e:  # reported by the test
            done.set_result("FAILED: %r" % e)

    async with serve(push, "127.0.0.1", port, max_size=None, compression=None):
        print("ready", flush=True)
        print(await done, flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "server":
        asyncio.run(run_server(int(sys.argv[2]), *sys.argv[3:5]))
    elif mode == "push":
        asyncio.run(run_push(int(sys.argv[2])))
    else:
        asyncio.run(run_client(sys.argv[2], *sys.argv[3:4]))
