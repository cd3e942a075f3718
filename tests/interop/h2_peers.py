"""hypercorn (RFC 8441 over HTTP/2) echo server for the HTTP/2 interop test.

  h2_peers.py PORT [CERT KEY]   an ASGI WebSocket echo app under hypercorn on 127.0.0.1:PORT;
                                h2c with prior knowledge without CERT, TLS with ALPN h2 with it.
                                It accepts the subprotocol "chat" when offered and answers
                                "/info" with "<http_version>|<subprotocol>" first.
"""
import asyncio
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = b"hypercorn %s %s" % (scope["http_version"].encode(), scope["path"].encode())
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    proto = "chat" if "chat" in scope.get("subprotocols", []) else None
    await send({"type": "websocket.accept", "subprotocol": proto})
    if scope["path"] == "/info":
        await send({"type": "websocket.send", "text": "%s|%s" % (scope["http_version"], proto)})
    while True:
        msg = await receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("text") is not None:
            await send({"type": "websocket.send", "text": msg["text"]})
        else:
            await send({"type": "websocket.send", "bytes": msg["bytes"]})


def main():
    port = int(sys.argv[1])
    config = Config()
    config.bind = ["127.0.0.1:%d" % port]
    config.websocket_max_message_size = 64 * 1024 * 1024
    config.accesslog = None
    if len(sys.argv) > 3:
        config.certfile, config.keyfile = sys.argv[2], sys.argv[3]
        config.alpn_protocols = ["h2", "http/1.1"]

    async def run():
        task = asyncio.ensure_future(serve(app, config))
        await asyncio.sleep(0.5)
        print("ready", flush=True)
        await task

    asyncio.run(run())


main()
