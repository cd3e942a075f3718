#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (small, meaningful inputs).

Re-running it rewrites the same files; run it from anywhere:
    python3 fuzz/make_seeds.py
"""
import base64
import hashlib
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# The nonce of sockweave_fuzz::NONCE (bytes 1..=16) and its key.
CLIENT_KEY = base64.b64encode(bytes(range(1, 17)))
RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0, len_form=None):
    """One frame; len_form forces 7, 16 or 64-bit length encoding."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    form = len_form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    m = 0x80 if mask is not None else 0
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask is not None:
        head += bytes(mask)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + payload


def deflate(data, wbits=15):
    """A permessage-deflate payload: raw deflate, sync-flushed, tail removed."""
    c = zlib.compressobj(6, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


K = [0x37, 0xFA, 0x21, 0x3D]

# frame_decode: headers of every shape.
fd = {
    "text-hello-unmasked": frame(1, b"Hello"),
    "text-hello-masked": frame(1, b"Hello", mask=K),
    "binary-256-len16": frame(2, b"\0" * 256)[:4],
    "binary-64k-len64-masked": frame(2, b"", mask=K, len_form=64)[:2]
    + struct.pack(">Q", 65536) + bytes(K),
    "ping": frame(9, b"hi", mask=K),
    "close-1000": frame(8, struct.pack(">H", 1000) + b"bye"),
    "continuation-nofin": frame(0, b"ab", fin=False),
    "rsv1-text": frame(1, b"x", rsv=4),
    "nonminimal-len16": frame(2, b"abc", len_form=16),
    "nonminimal-len64": frame(2, b"abc", len_form=64),
    "reserved-opcode": bytes([0x83, 0x00]),
    "length-overflow": bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]),
}
for k, v in fd.items():
    write("frame_decode", k, v)

# handshake_client_response: answers to sockweave_fuzz::client_handshake().
ca = accept(CLIENT_KEY)
ok = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + ca + b"\r\n"
)
write("handshake_client_response", "accept-minimal", ok + b"\r\n")
write(
    "handshake_client_response",
    "accept-protocol-deflate-and-frame",
    ok
    + b"Sec-WebSocket-Protocol: superchat\r\n"
    + b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
    + b"client_max_window_bits=10, x-sockweave-test\r\n\r\n"
    + frame(1, b"hi"),
)
write("handshake_client_response", "refused-401",
      b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
write("handshake_client_response", "wrong-accept",
      ok.replace(ca, accept(RFC_KEY)) + b"\r\n")
write("handshake_client_response", "unoffered-protocol",
      ok + b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
write("handshake_client_response", "partial-head", ok)
write("handshake_client_response", "deflate-without-required-takeover",
      ok + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")

# handshake_server_request: upgrade requests.
req = (
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: " + RFC_KEY + b"\r\n"
    b"Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n"
)
write("handshake_server_request", "rfc6455-sample",
      req + b"Sec-WebSocket-Protocol: chat, superchat\r\n\r\n")
write(
    "handshake_server_request",
    "deflate-offer-and-frame",
    req
    + b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate\r\n\r\n"
    + frame(1, b"Hello", mask=K),
)
write("handshake_server_request", "version-8", req.replace(b"Version: 13", b"Version: 8") + b"\r\n")
write("handshake_server_request", "post", req.replace(b"GET", b"POST") + b"\r\n")
write("handshake_server_request", "bad-key", req.replace(RFC_KEY, b"c2hvcnQ=") + b"\r\n")
write("handshake_server_request", "keep-alive-upgrade-multi",
      req.replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade\r\nUpgrade: h2c") + b"\r\n")
write("handshake_server_request", "partial", req)

# h2_and_extensions: flags byte, then method/pseudo-headers/headers on lines.
# Flags 0x2b: CONNECT forced, :protocol and :scheme forced, :path from the input.
h2 = "\n".join(["", "", "/chat?x=1", "sec-websocket-protocol: chat, superchat",
                "sec-websocket-extensions: permessage-deflate; client_max_window_bits"])
write("h2_and_extensions", "connect-valid", bytes([0x61 | 0x0A]) + h2.encode())
write("h2_and_extensions", "all-from-input",
      bytes([0xFE]) + "\n".join(["CONNECT", "websocket", "https", "/", "example.com",
                                 "sec-websocket-version: 13", "origin: x"]).encode())
write("h2_and_extensions", "connection-header",
      bytes([0x2B]) + b"\n\n/\nconnection: keep-alive")
write("h2_and_extensions", "ext-quoted",
      b'permessage-deflate; server_max_window_bits="10"; client_no_context_takeover, x-foo')
write("h2_and_extensions", "ext-bad", b'a; b="x y", ;c')

# session_server / session_client: 00 00 (defaults, no ops) + peer frames.
def session(frames, cfg=0, ops=b""):
    return bytes([cfg, len(ops)]) + ops + frames


for role, mk in (("session_server", lambda *a, **k: frame(*a, mask=K, **k)),
                 ("session_client", frame)):
    w = lambda name, data: write(role, name, data)
    w("text-hello", session(mk(1, b"Hello")))
    w("fragmented-text-with-ping",
      session(mk(1, "hé".encode()[:2], fin=False) + mk(9, b"p") + mk(0, "hé".encode()[2:] + b"!")))
    w("binary-300-then-close",
      session(mk(2, bytes(range(256)) + bytes(44)) + mk(8, struct.pack(">H", 1000) + b"bye")))
    w("invalid-utf8", session(mk(1, b"ok\xf4\x90")))
    # Small buffer, one-byte chunks, 1-byte receives, and our own ping/close ops.
    w("small-chunks-with-ops",
      session(mk(1, b"abc", fin=False) + mk(0, b"def") + mk(10, b"") + mk(8, b""),
              cfg=0x01, ops=bytes([0x21, 21, 0x21, 0x10, 0x31, 24, 0x21, 0xC0])))
    w("big-frame-len16", session(mk(2, b"z" * 1000), cfg=0x41))
    w("eof-mid-message", session(mk(1, b"abc", fin=False)))
    # permessage-deflate (config bit 7): a compressed text in two frames, a
    # ping, a compressed binary, an uncompressed text; then 9-bit windows
    # without context takeover (bit 7 of byte 1).
    w("deflate-messages",
      session(mk(1, deflate(b"Hello, ")[:3], fin=False, rsv=4) + mk(9, b"p")
              + mk(0, deflate(b"Hello, ")[3:]) + mk(2, deflate(bytes(300)), rsv=4)
              + mk(1, b"plain"), cfg=0x80))
    w("deflate-no-takeover",
      bytes([0x80, 0x80 | 4]) + bytes([0x00, 19, 0x05, 16])
      + mk(1, deflate(b"abcabcabc", 9), rsv=4) + mk(1, deflate(b"abcabcabc", 9), rsv=4))
    w("too-big-frame", session(mk(2, b"z" * 200), cfg=0x08))
# Each role also gets a frame that breaks its masking rule.
write("session_server", "unmasked", session(frame(1, b"Hello")))
write("session_client", "masked", session(frame(1, b"Hello", mask=K)))
