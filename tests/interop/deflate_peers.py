"""Python `websockets` peers for the permessage-deflate interop test.

  deflate_peers.py server PORT PARAMS   echo server; on path /ext it first sends the
                                        Sec-WebSocket-Extensions it answered with; prints
                                        what it negotiated, a line per connection
  deflate_peers.py client URL PARAMS    sends test messages, checks the echoes; prints the
                                        Sec-WebSocket-Extensions it got, then what it
                                        negotiated

"What it negotiated" is the parameters websockets runs with, as the line
`negotiated server_max_window_bits=S client_max_window_bits=C
server_no_context_takeover=B client_no_context_takeover=B` (one line).

PARAMS: comma-separated RFC 7692 settings for websockets' factories, e.g.
"server_max_window_bits=10,client_max_window_bits=9,server_no_context_takeover".
"""
import asyncio
import os
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)


def parse(params):
    kw = {}
    for p in filter(None, params.split(",")):
        k, _, v = p.partition("=")
        kw[k] = int(v) if v else True
    return kw


def negotiated(ws, is_server):
    """The parameters of websockets' PerMessageDeflate on this connection."""
    pmd = [e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)]
    if not pmd:
        return "negotiated none"
    e = pmd[0]
    # websockets names them from its own side: local is the server on a server.
    server, client = ("local", "remote") if is_server else ("remote", "local")
    return (
        f"negotiated server_max_window_bits={getattr(e, server + '_max_window_bits')}"
        f" client_max_window_bits={getattr(e, client + '_max_window_bits')}"
        f" server_no_context_takeover={str(getattr(e, server + '_no_context_takeover')).lower()}"
        f" client_no_context_takeover={str(getattr(e, client + '_no_context_takeover')).lower()}"
    )


def messages():
    json_like = ('{"user":"ada","room":"general","text":"hello there, how are you today?","n":%d}' * 30)
    yield "text", "héllo wörld ✓"
    yield "text", ""
    yield "text", json_like % tuple(range(30))
    yield "bytes", os.urandom(70_000)
    yield "bytes", b"\x00" * 1_000_000
    yield "text", "repeat " * 50_000
    for i in range(50):
        yield "text", json_like % tuple(range(i, i + 30))


async def run_server(port, params):
    kw = parse(params)
    # websockets names client_max_window_bits=True "accept a valueless offer".
    factory = ServerPerMessageDeflateFactory(**kw)

    async def echo(ws):
        print(negotiated(ws, True), flush=True)
        if ws.request.path == "/ext":
            await ws.send(ws.response.headers.get("Sec-WebSocket-Extensions", "none"))
        async for m in ws:
            await ws.send(m)

    async with serve(echo, "127.0.0.1", port, extensions=[factory], compression=None, max_size=None):
        print("ready", flush=True)
        await asyncio.Future()


async def run_client(url, params):
    kw = parse(params)
    factory = ClientPerMessageDeflateFactory(**kw)
    async with connect(url, extensions=[factory], compression=None, max_size=None) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions", "none")
        print(ext, flush=True)
        print(negotiated(ws, False), flush=True)
        if "permessage-deflate" not in ext:
            sys.exit("permessage-deflate was not negotiated")
        n = 0
        for kind, m in messages():
            await ws.send(m)
            back = await ws.recv()
            if back != m:
                sys.exit(f"message {n} ({kind}, {len(m)}) came back different")
            n += 1
        await ws.close(1000, "done")
        if ws.close_code != 1000:
            sys.exit(f"close code {ws.close_code}")
        print(f"ok {n} messages", flush=True)


if __name__ == "__main__":
    mode, target, params = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else "")
    if mode == "server":
        asyncio.run(run_server(int(target), params))
    else:
        asyncio.run(run_client(target, params))
