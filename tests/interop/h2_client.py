"""A third-party RFC 8441 client: Python `h2` (HTTP/2) with `wsproto` (WebSocket
framing), both from the hypercorn stack, against a WebSocket echo server.

  h2_client.py URL [CA]   extended CONNECT on h2c (ws://) or TLS with ALPN h2 (wss://);
                          echoes of several sizes, a ping, close 1000; prints "ok ..."
"""
import os
import socket
import ssl
import sys
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.settings
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage


def main(url, ca=None):
    u = urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=20)
    if u.scheme == "wss":
        ctx = ssl.create_default_context(cafile=ca)
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname=u.hostname)
        assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())

    def pump():
        data = sock.recv(65536)
        if not data:
            raise SystemExit("FAIL connection closed")
        events = conn.receive_data(data)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
        return events

    while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in pump()):
        pass
    if not conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL):
        raise SystemExit("FAIL the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL")
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https" if u.scheme == "wss" else "http"),
        (":path", u.path or "/"), (":authority", u.netloc), ("sec-websocket-version", "13"),
    ])
    sock.sendall(conn.data_to_send())
    ws = Connection(ConnectionType.CLIENT)
    inbox = []
    ended = False

    def handle():
        """Reads once and files what arrived: WebSocket events, the stream's end."""
        nonlocal ended
        for e in pump():
            if isinstance(e, h2.events.ResponseReceived):
                status = dict(e.headers).get(b":status")
                if status != b"200":
                    raise SystemExit("FAIL status %r" % status)
            elif isinstance(e, h2.events.DataReceived):
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
                sock.sendall(conn.data_to_send())
                if e.data:
                    ws.receive_data(e.data)
                    inbox.extend(ws.events())
            elif isinstance(e, h2.events.StreamEnded):
                ended = True
            elif isinstance(e, h2.events.StreamReset):
                raise SystemExit("FAIL stream reset %s" % e.error_code)

    def send_ws(event):
        data = ws.send(event)
        while data:
            room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if room <= 0:
                handle()  # wait for WINDOW_UPDATE, taking in what arrives meanwhile
                continue
            conn.send_data(sid, data[:room])
            sock.sendall(conn.data_to_send())
            data = data[room:]

    def next_event():
        while not inbox:
            if ended:
                raise SystemExit("FAIL the stream ended without a WebSocket event")
            handle()
        return inbox.pop(0)

    def message():
        parts, kind = [], None
        while True:
            e = next_event()
            if isinstance(e, (TextMessage, BytesMessage)):
                kind = type(e)
                parts.append(e.data)
                if e.message_finished:
                    return "".join(parts) if kind is TextMessage else b"".join(parts)
            elif isinstance(e, Ping):
                send_ws(e.response())

    cases = [b"", b"x", os.urandom(125), os.urandom(65536), os.urandom(1 << 20), "héllo ✓", "t" * 100000]
    for m in cases:
        send_ws(TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m))
        assert message() == m, "echo differs for a %d-long message" % len(m)
    send_ws(Ping(payload=b"are you there"))
    e = next_event()
    assert isinstance(e, Pong) and e.payload == b"are you there", e
    send_ws(CloseConnection(code=1000, reason="done"))
    e = next_event()
    assert isinstance(e, CloseConnection) and e.code == 1000, e
    conn.end_stream(sid)
    sock.sendall(conn.data_to_send())
    while not ended:
        handle()
    print("ok %d messages, ping, close 1000, END_STREAM both ways over HTTP/2" % len(cases))


main(*sys.argv[1:])
