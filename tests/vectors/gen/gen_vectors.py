#!/usr/bin/env python3
"""Generates the shared WebSocket test vectors in tests/vectors/*.json.

The JSON files are the checked-in source of truth; this script only exists to
write them reproducibly (standard library only). Expected outcomes are written
here from RFC 6455 / RFC 8441 / RFC 7230, not copied from the engine.

    python3 tests/vectors/gen/gen_vectors.py          # rewrite the JSON files
    python3 tests/vectors/gen/gen_vectors.py --check  # fail if they are stale
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPNAMES = {CONT: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close", PING: "ping", PONG: "pong"}
RSV1, RSV2, RSV3 = 4, 2, 1
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

KEY_A = bytes.fromhex("37fa213d")  # the RFC 6455 section 5.7 masking key
KEY_B = bytes.fromhex("a1b2c3d4")
KEY_C = bytes.fromhex("00000000")
KEY_D = bytes.fromhex("ffffffff")


def mask(payload: bytes, key) -> bytes:
    if key is None:
        return bytes(payload)
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def header(op, length, fin=True, rsv=0, key=None, enc=None) -> bytes:
    """Frame header. enc: None = minimal, 16 = force the 16-bit form, 64 = force the 64-bit form."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    m = 0x80 if key is not None else 0
    if enc is None:
        enc = 7 if length < 126 else 16 if length <= 0xFFFF else 64
    if enc == 7:
        out = bytes([b0, m | length])
    elif enc == 16:
        out = bytes([b0, m | 126]) + length.to_bytes(2, "big")
    else:
        out = bytes([b0, m | 127]) + length.to_bytes(8, "big")
    if key is not None:
        out += bytes(key)
    return out


def frame(op, payload=b"", fin=True, rsv=0, key=None, enc=None) -> bytes:
    return header(op, len(payload), fin, rsv, key, enc) + mask(payload, key)


def close_payload(code, reason=b"") -> bytes:
    return code.to_bytes(2, "big") + reason


# ---------------------------------------------------------------- frames.json


def frame_vector(name, op, payload=None, *, fin=True, rsv=0, key=None, enc=None,
                 pattern=None, header_only_len=None):
    minimal = enc is None
    if header_only_len is not None:
        length = header_only_len
    elif pattern is not None:
        length = pattern[1]
    else:
        length = len(payload)
    h = header(op, length, fin, rsv, key, enc)
    v = {
        "name": name,
        "hex": None,
        "fin": fin,
        "rsv": rsv,
        "opcode": OPNAMES[op],
        "masked": key is not None,
        "maskKey": key.hex() if key is not None else None,
        "payloadLength": length,
        "headerLength": len(h),
        "payloadHex": None,
    }
    if header_only_len is not None:
        v["hex"] = h.hex()
        v["headerOnly"] = True
    elif pattern is not None:
        v["hex"] = h.hex()
        v["payloadPattern"] = {"byte": "%02x" % pattern[0], "length": pattern[1]}
    else:
        v["hex"] = (h + mask(payload, key)).hex()
        v["payloadHex"] = payload.hex()
    if not minimal:
        v["minimal"] = False
    assert length <= 2**53 - 1
    return v


def frames():
    seq256 = bytes(range(256))
    f = [
        # RFC 6455 section 5.7 examples, byte for byte.
        frame_vector("rfc6455 5.7: single-frame unmasked text \"Hello\"", TEXT, b"Hello"),
        frame_vector("rfc6455 5.7: single-frame masked text \"Hello\"", TEXT, b"Hello", key=KEY_A),
        frame_vector("rfc6455 5.7: fragmented unmasked text, first fragment \"Hel\"", TEXT, b"Hel", fin=False),
        frame_vector("rfc6455 5.7: fragmented unmasked text, last fragment \"lo\"", CONT, b"lo"),
        frame_vector("rfc6455 5.7: unmasked ping \"Hello\"", PING, b"Hello"),
        frame_vector("rfc6455 5.7: masked pong \"Hello\"", PONG, b"Hello", key=KEY_A),
        frame_vector("rfc6455 5.7: 256 bytes binary in a single unmasked frame", BINARY, seq256),
        frame_vector("rfc6455 5.7: 64KiB binary in a single unmasked frame", BINARY, pattern=(0xAB, 65536)),
        # Every opcode.
        frame_vector("continuation, final, masked", CONT, b"tail", key=KEY_B),
        frame_vector("continuation, not final, unmasked", CONT, b"middle", fin=False),
        frame_vector("text, not final, masked", TEXT, b"first", fin=False, key=KEY_B),
        frame_vector("binary, not final, unmasked", BINARY, b"\x00\x01\x02", fin=False),
        frame_vector("binary, masked", BINARY, b"\xde\xad\xbe\xef\x00", key=KEY_B),
        frame_vector("close 1000 \"bye\", unmasked", CLOSE, close_payload(1000, b"bye")),
        frame_vector("close 1001, masked", CLOSE, close_payload(1001), key=KEY_B),
        frame_vector("close, empty payload, unmasked", CLOSE, b""),
        frame_vector("close, empty payload, masked", CLOSE, b"", key=KEY_A),
        frame_vector("ping, empty payload, masked", PING, b"", key=KEY_B),
        frame_vector("pong, empty payload, unmasked", PONG, b""),
        frame_vector("ping, 125-byte payload (control maximum), masked", PING, bytes(range(125)), key=KEY_A),
        # 7-bit lengths.
        frame_vector("text, length 0, unmasked", TEXT, b""),
        frame_vector("text, length 0, masked", TEXT, b"", key=KEY_A),
        frame_vector("binary, length 1, masked", BINARY, b"\x7f", key=KEY_A),
        frame_vector("binary, length 125 (largest 7-bit), unmasked", BINARY, bytes((i * 7) & 0xFF for i in range(125))),
        frame_vector("binary, length 125 (largest 7-bit), masked", BINARY, bytes((i * 7) & 0xFF for i in range(125)), key=KEY_B),
        # 16-bit lengths.
        frame_vector("binary, length 126 (smallest 16-bit), unmasked", BINARY, bytes(range(126))),
        frame_vector("binary, length 126 (smallest 16-bit), masked", BINARY, bytes(range(126)), key=KEY_A),
        frame_vector("text, length 127, masked", TEXT, b"x" * 127, key=KEY_B),
        frame_vector("binary, length 65535 (largest 16-bit), masked", BINARY, pattern=(0x5A, 65535), key=KEY_B),
        frame_vector("binary, length 65535 (largest 16-bit), unmasked", BINARY, pattern=(0x00, 65535)),
        # 64-bit lengths.
        frame_vector("binary, length 65536 (smallest 64-bit), masked", BINARY, pattern=(0xC3, 65536), key=KEY_A),
        frame_vector("binary, length 100000, masked", BINARY, pattern=(0x61, 100000), key=KEY_B),
        frame_vector("binary, length 1048577, unmasked", BINARY, pattern=(0xFF, 1048577)),
        frame_vector("binary, length 2^32 (header only)", BINARY, header_only_len=2**32, key=KEY_A),
        frame_vector("binary, length 2^53-1 (header only)", BINARY, header_only_len=2**53 - 1),
        # Mask keys that are easy to get wrong.
        frame_vector("text, all-zero mask key", TEXT, b"zero key", key=KEY_C),
        frame_vector("text, all-ones mask key", TEXT, b"ones key", key=KEY_D),
        # RSV bits (the frame layer reports them; whether they are allowed is the session's business).
        frame_vector("text with RSV1 (permessage-deflate compressed bit)", TEXT, b"\xf2\x48\xcd\xc9\xc9\x07\x00", rsv=RSV1),
        frame_vector("binary with RSV2, masked", BINARY, b"rsv2", rsv=RSV2, key=KEY_A),
        frame_vector("binary with RSV3", BINARY, b"rsv3", rsv=RSV3),
        frame_vector("ping with RSV1|RSV2|RSV3", PING, b"all", rsv=7),
        frame_vector("continuation with RSV1, not final", CONT, b"c", rsv=RSV1, fin=False),
        # Non-minimal length encodings (decoders accept them; encoders never produce them).
        frame_vector("text, length 5 in the 16-bit form (non-minimal)", TEXT, b"Hello", enc=16),
        frame_vector("text, length 5 in the 64-bit form (non-minimal), masked", TEXT, b"Hello", enc=64, key=KEY_A),
        frame_vector("binary, length 200 in the 64-bit form (non-minimal)", BINARY, bytes(range(200)), enc=64),
        frame_vector("binary, length 0 in the 16-bit form (non-minimal)", BINARY, b"", enc=16),
    ]
    invalid = [
        {"name": "reserved opcode 0x3", "hex": "8300", "error": "reservedOpcode"},
        {"name": "reserved opcode 0x7, masked", "hex": "8780" + KEY_A.hex(), "error": "reservedOpcode"},
        {"name": "reserved opcode 0xB", "hex": "8b00", "error": "reservedOpcode"},
        {"name": "reserved opcode 0xF, FIN clear", "hex": "0f00", "error": "reservedOpcode"},
        {"name": "ping with FIN clear", "hex": "0900", "error": "fragmentedControl"},
        {"name": "close with FIN clear", "hex": "080203e8", "error": "fragmentedControl"},
        {"name": "pong with FIN clear, masked", "hex": "0a80" + KEY_A.hex(), "error": "fragmentedControl"},
        {"name": "ping with 16-bit length 126", "hex": "897e007e", "error": "controlTooLong"},
        {"name": "close with 64-bit length 127", "hex": "887f000000000000007f", "error": "controlTooLong"},
        {"name": "pong with 16-bit length 126, masked", "hex": "8afe007e" + KEY_A.hex(), "error": "controlTooLong"},
        {"name": "64-bit length with the most significant bit set", "hex": "827f8000000000000000", "error": "lengthOverflow"},
        {"name": "64-bit length of all ones, masked", "hex": "82ffffffffffffffffff" + KEY_A.hex(), "error": "lengthOverflow"},
    ]
    return {"frames": f, "invalid": invalid}


# -------------------------------------------------------------- sessions.json


def text_msg(s):
    if isinstance(s, str):
        s = s.encode()
    return {"type": "text", "dataHex": s.hex()}


def bin_msg(b):
    return {"type": "binary", "dataHex": bytes(b).hex()}


def case(name, role, frames_, messages=(), close=None, error=None, pongs=None, options=None,
         sent_close=None, known_bug=None):
    """error: close code of a protocol failure (kind Faulted), or None."""
    c = {"name": name, "role": role}
    if options is not None:
        c["options"] = options
    c["inputHex"] = b"".join(frames_).hex()
    expect = {
        "messages": list(messages),
        "closeReceived": None if close is None else {"code": close[0], "reason": close[1]},
        "error": None if error is None else {"kind": "Faulted", "closeCode": error},
        # A protocol failure makes the session send a Close with the same code.
        "sentCloseCode": error if sent_close is None else sent_close,
        "pongsHex": [p.hex() for p in (pongs or [])],
    }
    c["expect"] = expect
    if known_bug:
        c["knownBug"] = known_bug
    return c


def sessions():
    S, C = "server", "client"

    def sf(op, payload=b"", fin=True, rsv=0, key=KEY_A, enc=None):
        """A frame as a client sends it (masked), for server-role cases."""
        return frame(op, payload, fin, rsv, key, enc)

    def cf(op, payload=b"", fin=True, rsv=0, enc=None):
        """A frame as a server sends it (unmasked), for client-role cases."""
        return frame(op, payload, fin, rsv, None, enc)

    edge_text = "\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode()
    big_text = ("0123456789" * 20).encode()  # 200 bytes, 16-bit length
    big_bin = bytes((i * 31 + 7) & 0xFF for i in range(1000))
    valid = [
        case("rfc6455 5.7 masked text \"Hello\" to a server", S, [sf(TEXT, b"Hello")], [text_msg("Hello")]),
        case("rfc6455 5.7 unmasked text \"Hello\" to a client", C, [cf(TEXT, b"Hello")], [text_msg("Hello")]),
        case("single-frame binary to a server", S, [sf(BINARY, b"\x00\x01\xfe\xff", key=KEY_B)], [bin_msg(b"\x00\x01\xfe\xff")]),
        case("single-frame binary to a client", C, [cf(BINARY, b"\x80\x81")], [bin_msg(b"\x80\x81")]),
        case("rfc6455 5.7 fragmented text \"Hel\" + \"lo\" to a client", C,
             [cf(TEXT, b"Hel", fin=False), cf(CONT, b"lo")], [text_msg("Hello")]),
        case("fragmented binary in three frames to a server", S,
             [sf(BINARY, b"\x01\x02", fin=False), sf(CONT, b"\x03", fin=False, key=KEY_B), sf(CONT, b"\x04\x05\x06")],
             [bin_msg(b"\x01\x02\x03\x04\x05\x06")]),
        case("fragmented text with empty first, middle and last fragments", S,
             [sf(TEXT, b"", fin=False), sf(CONT, b"ab", fin=False), sf(CONT, b"", fin=False),
              sf(CONT, b"cd", fin=False), sf(CONT, b"")],
             [text_msg("abcd")]),
        case("ping between fragments of a text message is answered", S,
             [sf(TEXT, b"frag", fin=False), sf(PING, b"hb"), sf(CONT, b"ment")],
             [text_msg("fragment")], pongs=[b"hb"]),
        case("pong and ping between fragments of a binary message (client)", C,
             [cf(BINARY, b"\x01", fin=False), cf(PONG, b"unsolicited"), cf(CONT, b"\x02", fin=False),
              cf(PING, b"p"), cf(CONT, b"\x03")],
             [bin_msg(b"\x01\x02\x03")], pongs=[b"p"]),
        case("ping is answered with a pong carrying its payload (server)", S, [sf(PING, b"Hello")], pongs=[b"Hello"]),
        case("ping is answered with a pong carrying its payload (client, pong is masked)", C,
             [cf(PING, b"\x00\xffping")], pongs=[b"\x00\xffping"]),
        case("empty ping is answered with an empty pong", S, [sf(PING, b"")], pongs=[b""]),
        case("125-byte ping is answered with a 125-byte pong", C, [cf(PING, bytes(range(125)))], pongs=[bytes(range(125))]),
        case("two pings, two pongs in order", S, [sf(PING, b"1"), sf(PING, b"2", key=KEY_B)], pongs=[b"1", b"2"]),
        case("unsolicited pong is ignored", S, [sf(PONG, b"late"), sf(TEXT, b"x")], [text_msg("x")]),
        case("close 1000 with reason \"bye\" (server)", S, [sf(CLOSE, close_payload(1000, b"bye"))], close=(1000, "bye")),
        case("close 1001 with reason (client)", C, [cf(CLOSE, close_payload(1001, b"going away"))], close=(1001, "going away")),
        case("close with an empty payload is reported as 1005", S, [sf(CLOSE, b"")], close=(1005, "")),
        case("close with an empty payload is reported as 1005 (client)", C, [cf(CLOSE, b"")], close=(1005, "")),
        case("close with a code and no reason", S, [sf(CLOSE, close_payload(1000))], close=(1000, "")),
        case("close with a multi-byte UTF-8 reason", C,
             [cf(CLOSE, close_payload(1000, "adiós €𝄞".encode()))], close=(1000, "adiós €𝄞")),
        case("close with a 123-byte reason (largest)", S,
             [sf(CLOSE, close_payload(1000, b"r" * 123))], close=(1000, "r" * 123)),
        case("close code 1003 is valid", S, [sf(CLOSE, close_payload(1003))], close=(1003, "")),
        case("close code 1007 is valid", S, [sf(CLOSE, close_payload(1007))], close=(1007, "")),
        case("close code 1011 is valid", C, [cf(CLOSE, close_payload(1011))], close=(1011, "")),
        case("close code 1012 (IANA: service restart) is valid", C, [cf(CLOSE, close_payload(1012))], close=(1012, "")),
        case("close code 1014 (IANA: bad gateway) is valid", C, [cf(CLOSE, close_payload(1014))], close=(1014, "")),
        case("close code 3000 is valid", S, [sf(CLOSE, close_payload(3000))], close=(3000, "")),
        case("close code 4999 is valid", S, [sf(CLOSE, close_payload(4999, b"app"))], close=(4999, "app")),
        case("messages before a close are delivered first", S,
             [sf(TEXT, b"one"), sf(BINARY, b"\x02"), sf(CLOSE, close_payload(1000, b"done"))],
             [text_msg("one"), bin_msg(b"\x02")], close=(1000, "done")),
        case("a ping between fragments, then close: close is delivered after the message", C,
             [cf(TEXT, b"a", fin=False), cf(PING, b""), cf(CONT, b"b"), cf(CLOSE, close_payload(1000))],
             [text_msg("ab")], close=(1000, ""), pongs=[b""]),
        case("anything after a close is ignored", S,
             [sf(CLOSE, close_payload(1000)), sf(TEXT, b"ignored"), bytes([0x83, 0x00]), sf(PING, b"x")],
             close=(1000, "")),
        case("a close inside a fragmented message ends it unfinished", C,
             [cf(TEXT, b"unfin", fin=False), cf(CLOSE, close_payload(1001))], close=(1001, "")),
        case("empty text message", S, [sf(TEXT, b"")], [text_msg("")]),
        case("empty binary message", C, [cf(BINARY, b"")], [bin_msg(b"")]),
        case("empty messages between non-empty ones", S,
             [sf(TEXT, b"a"), sf(BINARY, b""), sf(TEXT, b""), sf(BINARY, b"b")],
             [text_msg("a"), bin_msg(b""), text_msg(""), bin_msg(b"b")]),
        case("200-byte text message (16-bit length)", S, [sf(TEXT, big_text)], [text_msg(big_text)]),
        case("1000-byte binary message (16-bit length, client)", C, [cf(BINARY, big_bin)], [bin_msg(big_bin)]),
        case("1000-byte binary message with a 256-byte receive buffer", S,
             [sf(BINARY, big_bin), sf(TEXT, b"after")], [bin_msg(big_bin), text_msg("after")],
             options={"receiveBufferSize": 256}),
        case("many small messages with a 256-byte receive buffer", C,
             [cf(TEXT, ("m%02d" % i).encode()) for i in range(60)],
             [text_msg("m%02d" % i) for i in range(60)], options={"receiveBufferSize": 256}),
        case("text with edge code points U+007F..U+10FFFF", S, [sf(TEXT, edge_text)], [text_msg(edge_text)]),
        case("2-byte code point split across fragments", S,
             [sf(TEXT, b"\xc3", fin=False), sf(CONT, b"\xa9")], [text_msg("é")]),
        case("3-byte code point split across fragments", C,
             [cf(TEXT, b"x\xe2", fin=False), cf(CONT, b"\x82", fin=False), cf(CONT, b"\xacy")], [text_msg("x€y")]),
        case("4-byte code point split over four fragments", S,
             [sf(TEXT, b"\xf0", fin=False), sf(CONT, b"\x9d", fin=False), sf(CONT, b"\x84", fin=False), sf(CONT, b"\x9e")],
             [text_msg("𝄞")]),
        case("invalid UTF-8 in a binary message is fine", S, [sf(BINARY, b"\xff\xfe\xc0\xaf\xed\xa0\x80")],
             [bin_msg(b"\xff\xfe\xc0\xaf\xed\xa0\x80")]),
        case("fragments and pings with a 256-byte receive buffer", C,
             [cf(BINARY, big_bin[:300], fin=False), cf(PING, b"a"), cf(CONT, big_bin[300:700], fin=False),
              cf(PONG, b"b"), cf(PING, b"c"), cf(CONT, big_bin[700:])],
             [bin_msg(big_bin)], pongs=[b"a", b"c"], options={"receiveBufferSize": 256}),
        case("input ending inside a frame: nothing is delivered yet", S,
             [sf(TEXT, b"complete"), header(TEXT, 20, key=KEY_A) + mask(b"partial", KEY_A)], [text_msg("complete")]),
        case("input ending inside a code point of an unfinished message is not an error yet", C,
             [cf(TEXT, b"x\xe2\x82", fin=False)]),
        case("frame exactly maxFrameSize", S, [sf(BINARY, b"0123456789")], [bin_msg(b"0123456789")],
             options={"maxFrameSize": 10}),
        case("message exactly maxMessageSize across fragments", S,
             [sf(TEXT, b"01234", fin=False), sf(CONT, b"56789")], [text_msg("0123456789")],
             options={"maxMessageSize": 10}),
    ]

    def bad(name, role, frames_, code, messages=(), pongs=None, options=None, known_bug=None):
        return case(name, role, frames_, messages, None, code, pongs, options, known_bug=known_bug)

    invalid = []
    for op in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]:
        invalid.append(bad("reserved opcode 0x%X" % op, S, [header(op, 0, key=KEY_A)], 1002))
    invalid += [
        bad("reserved opcode 0x3 with a payload (client)", C, [bytes([0x83, 0x02, 0x61, 0x62])], 1002),
        bad("RSV1 set on text with no extension negotiated", S, [sf(TEXT, b"x", rsv=RSV1)], 1002),
        bad("RSV2 set on binary", S, [sf(BINARY, b"x", rsv=RSV2)], 1002),
        bad("RSV3 set on text (client)", C, [cf(TEXT, b"x", rsv=RSV3)], 1002),
        bad("RSV1 set on a ping", S, [sf(PING, b"", rsv=RSV1)], 1002),
        bad("RSV1 set on a continuation frame", S, [sf(TEXT, b"a", fin=False), sf(CONT, b"b", rsv=RSV1)], 1002),
        bad("unmasked frame to a server", S, [cf(TEXT, b"Hello")], 1002),
        bad("unmasked ping to a server", S, [cf(PING, b"")], 1002),
        bad("masked frame to a client", C, [sf(TEXT, b"Hello")], 1002),
        bad("masked close to a client", C, [sf(CLOSE, close_payload(1000))], 1002),
        bad("continuation with no message in progress", S, [sf(CONT, b"x")], 1002),
        bad("continuation after a finished message", C, [cf(TEXT, b"done"), cf(CONT, b"more")], 1002,
            messages=[text_msg("done")]),
        bad("new text frame inside a fragmented message", S, [sf(TEXT, b"a", fin=False), sf(TEXT, b"b")], 1002),
        bad("new binary frame inside a fragmented text message", C, [cf(TEXT, b"a", fin=False), cf(BINARY, b"b")], 1002),
        bad("fragmented ping (FIN clear)", S, [sf(PING, b"a", fin=False), sf(CONT, b"b")], 1002),
        bad("fragmented close (FIN clear)", S, [sf(CLOSE, close_payload(1000), fin=False)], 1002),
        bad("fragmented pong (FIN clear)", C, [cf(PONG, b"", fin=False)], 1002),
        bad("ping with a 126-byte payload", S, [sf(PING, bytes(126))], 1002),
        bad("close with a 126-byte payload", C, [cf(CLOSE, close_payload(1000, b"r" * 124))], 1002),
        bad("pong with a 64-bit length", S, [header(PONG, 127, key=KEY_A, enc=64)], 1002),
        bad("64-bit length with the most significant bit set", S,
            [bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]) + KEY_A], 1002),
        bad("close payload of 1 byte", S, [sf(CLOSE, b"\x03")], 1002),
    ]
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]:
        invalid.append(bad("close code %d is invalid on the wire" % code, S if code % 2 == 0 else C,
                           [sf(CLOSE, close_payload(code)) if code % 2 == 0 else cf(CLOSE, close_payload(code))], 1002))
    invalid += [
        bad("close reason is not UTF-8", S, [sf(CLOSE, close_payload(1000, b"\xff"))], 1007),
        bad("close reason ends inside a code point", C, [cf(CLOSE, close_payload(1000, b"ok\xe2\x82"))], 1007),
        bad("invalid UTF-8 (0xFF) in a single text frame", S, [sf(TEXT, b"ab\xffcd")], 1007),
        bad("invalid UTF-8 in a single text frame (client)", C, [cf(TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited")], 1007),
        bad("invalid UTF-8 split across fragments (E0 | 80 80)", S,
            [sf(TEXT, b"ok\xe0", fin=False), sf(CONT, b"\x80\x80")], 1007),
        bad("invalid UTF-8 in a later fragment", C,
            [cf(TEXT, b"valid ", fin=False), cf(CONT, b"still ", fin=False), cf(CONT, b"\xc3\x28")], 1007),
        bad("truncated code point at the end of a text message", S, [sf(TEXT, b"abc\xe2\x82")], 1007),
        bad("truncated code point before an empty final fragment", S,
            [sf(TEXT, b"\xf0\x9d\x84", fin=False), sf(CONT, b"")], 1007),
        bad("fail fast: invalid UTF-8 is reported before its frame is complete", S,
            [header(TEXT, 100, key=KEY_A) + mask(b"ok\xff", KEY_A)], 1007),
        bad("fail fast: a bad second byte (E0 9F) is reported before its frame is complete", C,
            [header(TEXT, 100) + b"ok\xe0\x9f"], 1007),
        bad("fail fast: invalid UTF-8 is reported before its message is complete", S,
            [sf(TEXT, b"ok\xc0", fin=False)], 1007),
        bad("lone continuation byte", S, [sf(TEXT, b"\x80")], 1007),
        bad("overlong 2-byte encoding (C0 AF)", S, [sf(TEXT, b"\xc0\xaf")], 1007),
        bad("overlong 3-byte encoding (E0 80 AF)", C, [cf(TEXT, b"\xe0\x80\xaf")], 1007),
        bad("overlong 4-byte encoding (F0 80 80 AF)", S, [sf(TEXT, b"\xf0\x80\x80\xaf")], 1007),
        bad("UTF-16 surrogate (ED A0 80)", S, [sf(TEXT, b"\xed\xa0\x80")], 1007),
        bad("UTF-16 surrogate split across fragments (ED | A0 80)", C,
            [cf(TEXT, b"\xed", fin=False), cf(CONT, b"\xa0\x80")], 1007),
        bad("code point above U+10FFFF (F4 90 80 80)", S, [sf(TEXT, b"\xf4\x90\x80\x80")], 1007),
        bad("byte 0xF5 cannot start a code point", S, [sf(TEXT, b"\xf5\x80\x80\x80")], 1007),
        bad("frame larger than maxFrameSize", S, [sf(BINARY, b"0123456789A")], 1009, options={"maxFrameSize": 10}),
        bad("text frame larger than maxFrameSize (client)", C, [cf(TEXT, b"x" * 200)], 1009, options={"maxFrameSize": 100}),
        bad("message larger than maxMessageSize across fragments", S,
            [sf(TEXT, b"012345", fin=False), sf(CONT, b"678901")], 1009, options={"maxMessageSize": 10}),
        bad("binary message larger than maxMessageSize in many small fragments", C,
            [cf(BINARY, b"abc", fin=False)] + [cf(CONT, b"abc", fin=False) for _ in range(3)] + [cf(CONT, b"abc")],
            1009, options={"maxMessageSize": 14}),
        bad("2^32-byte frame exceeds the default maxFrameSize (16 MiB)", S, [header(BINARY, 2**32, key=KEY_A)], 1009),
        bad("valid messages are delivered before the error", S,
            [sf(TEXT, b"first"), sf(BINARY, b"\x02\x03"), sf(TEXT, b"", fin=True), header(0xB, 0, key=KEY_B)], 1002,
            messages=[text_msg("first"), bin_msg(b"\x02\x03"), text_msg("")]),
        bad("a fragmented message completes before invalid UTF-8 in the next", C,
            [cf(TEXT, b"he", fin=False), cf(PING, b"!"), cf(CONT, b"llo"), cf(TEXT, b"\xff")], 1007,
            messages=[text_msg("hello")], pongs=[b"!"]),
        bad("ping answered before a later protocol error", S, [sf(PING, b"still here"), cf(TEXT, b"unmasked")], 1002,
            pongs=[b"still here"]),
    ]
    return {"cases": valid + invalid}


# ------------------------------------------------------------ handshakes.json


def accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def client_request_text(req, key):
    lines = ["GET %s HTTP/1.1" % req["path"], "Host: " + req["host"], "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
    if req["subprotocols"]:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(req["subprotocols"]))
    if req.get("extensions"):
        lines.append("Sec-WebSocket-Extensions: " + req["extensions"])
    for k, v in req["headers"]:
        lines.append("%s: %s" % (k, v))
    return "\r\n".join(lines) + "\r\n\r\n"


def head(first, headers):
    return first + "\r\n" + "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"


def ok(protocol=None, extensions=None):
    e = {"ok": True, "protocol": protocol}
    if extensions is not None:
        e["extensions"] = extensions
    return e


def fail(kind, status):
    return {"ok": False, "kind": kind, "status": status}


def handshakes():
    sample_nonce = b"the sample nonce"
    sample_key = base64.b64encode(sample_nonce).decode()
    assert sample_key == "dGhlIHNhbXBsZSBub25jZQ=="
    assert accept(sample_key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    sa = accept(sample_key)

    def resp(headers, status="101 Switching Protocols"):
        return head("HTTP/1.1 " + status, headers)

    base = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sa)]
    rfc_req = {"host": "server.example.com", "path": "/chat", "subprotocols": ["chat", "superchat"],
               "headers": [["Origin", "http://example.com"]]}
    many = [("X-Filler-%02d" % i, "x") for i in range(65)]
    client = [{
        "name": "rfc6455 sample request with two subprotocols",
        "nonceHex": sample_nonce.hex(),
        "request": rfc_req,
        "expectedRequest": client_request_text(rfc_req, sample_key),
        "responses": [
            {"name": "rfc6455 sample response selecting chat",
             "text": resp(base + [("Sec-WebSocket-Protocol", "chat")]), "expect": ok("chat")},
            {"name": "no subprotocol selected", "text": resp(base), "expect": ok(None)},
            {"name": "second offered subprotocol selected",
             "text": resp(base + [("Sec-WebSocket-Protocol", "superchat")]), "expect": ok("superchat")},
            {"name": "header names and the Upgrade value are case-insensitive; Connection is a token list",
             "text": resp([("upgrade", "WebSocket"), ("CONNECTION", "keep-alive, upgrade"),
                           ("sec-websocket-accept", sa), ("Server", "test")]),
             "expect": ok(None)},
            {"name": "unoffered subprotocol", "text": resp(base + [("Sec-WebSocket-Protocol", "v2.chat")]),
             "expect": fail("UnsupportedProtocol", 101)},
            {"name": "two subprotocols selected", "text": resp(base + [("Sec-WebSocket-Protocol", "chat, superchat")]),
             "expect": fail("UnsupportedProtocol", 101)},
            {"name": "subprotocol differing in case from the offer (matched as .NET does, reported as offered)",
             "text": resp(base + [("Sec-WebSocket-Protocol", "Chat")]),
             "expect": ok("chat")},
            {"name": "unoffered extension", "text": resp(base + [("Sec-WebSocket-Extensions", "permessage-deflate")]),
             "expect": fail("UnsupportedProtocol", 101)},
            {"name": "missing Upgrade", "text": resp(base[1:]), "expect": fail("HeaderError", 101)},
            {"name": "incorrect Upgrade", "text": resp([("Upgrade", "h2c")] + base[1:]), "expect": fail("HeaderError", 101)},
            {"name": "missing Connection", "text": resp([base[0], base[2]]), "expect": fail("HeaderError", 101)},
            {"name": "incorrect Connection", "text": resp([base[0], ("Connection", "keep-alive"), base[2]]),
             "expect": fail("HeaderError", 101)},
            {"name": "missing Sec-WebSocket-Accept", "text": resp(base[:2]), "expect": fail("HeaderError", 101)},
            {"name": "incorrect Sec-WebSocket-Accept (the key echoed back)",
             "text": resp(base[:2] + [("Sec-WebSocket-Accept", sample_key)]), "expect": fail("HeaderError", 101)},
            {"name": "incorrect Sec-WebSocket-Accept (one character changed)",
             "text": resp(base[:2] + [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOO=")]),
             "expect": fail("HeaderError", 101)},
            {"name": "Sec-WebSocket-Accept twice, the second one wrong (RFC 6455 11.3.3: at most once)",
             "text": resp(base + [("Sec-WebSocket-Accept", "c3Bvb2ZlZCBhY2NlcHQga2V5IQ==")]),
             "expect": fail("HeaderError", 101)},
            {"name": "status 200", "text": resp([("Content-Length", "0")], "200 OK"), "expect": fail("NotAWebSocket", 200)},
            {"name": "status 401 with WWW-Authenticate",
             "text": resp([("WWW-Authenticate", "Basic realm=\"ws\""), ("Content-Length", "0")], "401 Unauthorized"),
             "expect": fail("NotAWebSocket", 401)},
            {"name": "status 404", "text": resp([("Content-Length", "0")], "404 Not Found"),
             "expect": fail("NotAWebSocket", 404)},
            {"name": "status 302 redirect", "text": resp([("Location", "/elsewhere")], "302 Found"),
             "expect": fail("NotAWebSocket", 302)},
            {"name": "status 101 upgrading to something else but with a valid accept",
             "text": resp([("Upgrade", "TLS/1.2"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", sa)]),
             "expect": fail("HeaderError", 101)},
            {"name": "not HTTP at all", "text": "SSH-2.0-OpenSSH_9.6\r\n\r\n", "expect": fail("NotAWebSocket", None)},
            {"name": "more than 64 headers (the default maxHandshakeHeaders)", "text": resp(base + many),
             "expect": fail("HeaderError", None)},
        ],
    }]
    nonce2 = bytes(range(16))
    key2 = base64.b64encode(nonce2).decode()
    req2 = {"host": "example.com:8080", "path": "/ws?token=abc&x=1", "subprotocols": [], "headers": []}
    base2 = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept(key2))]
    client.append({
        "name": "no subprotocols, port in Host, query in path",
        "nonceHex": nonce2.hex(),
        "request": req2,
        "expectedRequest": client_request_text(req2, key2),
        "responses": [
            {"name": "accepted", "text": resp(base2), "expect": ok(None, [])},
            {"name": "accept for the RFC sample key instead of ours", "text": resp(base2[:2] + [("Sec-WebSocket-Accept", sa)]),
             "expect": fail("HeaderError", 101)},
            {"name": "subprotocol selected though none was offered", "text": resp(base2 + [("Sec-WebSocket-Protocol", "chat")]),
             "expect": fail("UnsupportedProtocol", 101)},
            {"name": "more than maxHandshakeHeaders (8) headers", "options": {"maxHandshakeHeaders": 8},
             "text": resp(base2 + many[:6]), "expect": fail("HeaderError", None)},
            {"name": "exactly maxHandshakeHeaders (8) headers", "options": {"maxHandshakeHeaders": 8},
             "text": resp(base2 + many[:5]), "expect": ok(None)},
        ],
    })
    nonce3 = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    key3 = base64.b64encode(nonce3).decode()
    req3 = {"host": "127.0.0.1", "path": "/", "subprotocols": ["graphql-transport-ws"],
            "extensions": "permessage-deflate; client_max_window_bits",
            "headers": [["Cookie", "a=1; b=2"], ["Authorization", "Bearer t0k3n"]]}
    base3 = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept(key3))]
    client.append({
        "name": "offering permessage-deflate, extra headers",
        "nonceHex": nonce3.hex(),
        "request": req3,
        "expectedRequest": client_request_text(req3, key3),
        "responses": [
            {"name": "deflate accepted", "text": resp(base3 + [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=10")]),
             "expect": ok(None, ["permessage-deflate"])},
            {"name": "deflate and subprotocol accepted",
             "text": resp(base3 + [("Sec-WebSocket-Protocol", "graphql-transport-ws"),
                                   ("Sec-WebSocket-Extensions", "permessage-deflate")]),
             "expect": ok("graphql-transport-ws", ["permessage-deflate"])},
            {"name": "an extension other than the offered one",
             "text": resp(base3 + [("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")]),
             "expect": fail("UnsupportedProtocol", 101)},
        ],
    })
    for name, req in [
        ("a reserved header in the extra headers",
         {"host": "example.com", "path": "/", "subprotocols": [], "headers": [["Upgrade", "websocket"]]}),
        ("a path without a leading slash", {"host": "example.com", "path": "chat", "subprotocols": [], "headers": []}),
        ("a path with a space", {"host": "example.com", "path": "/a b", "subprotocols": [], "headers": []}),
        ("an empty host", {"host": "", "path": "/", "subprotocols": [], "headers": []}),
        ("a subprotocol offered twice", {"host": "example.com", "path": "/", "subprotocols": ["chat", "chat"], "headers": []}),
        ("a subprotocol that is not a token", {"host": "example.com", "path": "/", "subprotocols": ["chat room"], "headers": []}),
        ("a header value with CR LF",
         {"host": "example.com", "path": "/", "subprotocols": [], "headers": [["X-Evil", "a\r\nInjected: 1"]]}),
    ]:
        client.append({"name": "refused request: " + name, "nonceHex": nonce2.hex(), "request": req,
                       "expectedRequest": None, "requestError": "InvalidArgument", "responses": []})

    # Server side.
    def req_text(headers, first="GET /chat HTTP/1.1"):
        return head(first, headers)

    rfc_server_headers = [("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                          ("Sec-WebSocket-Key", sample_key), ("Origin", "http://example.com"),
                          ("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Version", "13")]

    def accept_text(key, protocol):
        h = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept(key))]
        if protocol:
            h.append(("Sec-WebSocket-Protocol", protocol))
        return head("HTTP/1.1 101 Switching Protocols", h)

    def sok(key, path, protocols, extensions, select, host):
        return {"ok": True, "key": key, "host": host, "path": path, "protocols": protocols, "extensions": extensions,
                "acceptResponse": accept_text(key, select)}

    def sfail(status, kind):
        return {"ok": False, "status": status, "kind": kind}

    def without(name):
        return [h for h in rfc_server_headers if h[0] != name]

    def replace(name, value):
        return [(k, value if k == name else v) for k, v in rfc_server_headers]

    key15 = base64.b64encode(b"fifteen bytes!!").decode()
    key17 = base64.b64encode(b"seventeen bytes!!").decode()
    server = [
        {"name": "rfc6455 sample request, select chat", "select": "chat", "text": req_text(rfc_server_headers),
         "expect": sok(sample_key, "/chat", ["chat", "superchat"], [], "chat", "server.example.com")},
        {"name": "rfc6455 sample request, select superchat", "select": "superchat", "text": req_text(rfc_server_headers),
         "expect": sok(sample_key, "/chat", ["chat", "superchat"], [], "superchat", "server.example.com")},
        {"name": "rfc6455 sample request, select none", "select": None, "text": req_text(rfc_server_headers),
         "expect": sok(sample_key, "/chat", ["chat", "superchat"], [], None, "server.example.com")},
        {"name": "minimal request, case-insensitive names, token lists", "select": None,
         "text": req_text([("host", "example.com"), ("upgrade", "WebSocket"), ("connection", "keep-alive, Upgrade"),
                           ("sec-websocket-key", key2), ("sec-websocket-version", "13")], "GET /ws?x=1 HTTP/1.1"),
         "expect": sok(key2, "/ws?x=1", [], [], None, "example.com")},
        {"name": "subprotocols over two header lines are joined", "select": "b",
         "text": req_text([("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                           ("Sec-WebSocket-Key", key3), ("Sec-WebSocket-Version", "13"),
                           ("Sec-WebSocket-Protocol", "a"), ("Sec-WebSocket-Protocol", "b, c")]),
         "expect": sok(key3, "/chat", ["a", "b", "c"], [], "b", "h")},
        {"name": "extensions offered", "select": None,
         "text": req_text([("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                           ("Sec-WebSocket-Key", key3), ("Sec-WebSocket-Version", "13"),
                           ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame")]),
         "expect": sok(key3, "/chat", [], ["permessage-deflate", "x-webkit-deflate-frame"], None, "h")},
        {"name": "Sec-WebSocket-Key twice (RFC 6455 11.3.1: at most once)",
         "text": req_text(rfc_server_headers + [("Sec-WebSocket-Key", key2)]), "expect": sfail(400, "HeaderError")},
        {"name": "Host twice (RFC 9112 3.2: 400 for more than one Host)",
         "text": req_text(rfc_server_headers + [("Host", "attacker.example")]), "expect": sfail(400, "HeaderError")},
        {"name": "Content-Length 5 (an upgrade has no body: request smuggling)",
         "text": req_text(rfc_server_headers + [("Content-Length", "5")]), "expect": sfail(400, "HeaderError")},
        {"name": "Content-Length twice, conflicting",
         "text": req_text(rfc_server_headers + [("Content-Length", "0"), ("Content-Length", "5")]),
         "expect": sfail(400, "HeaderError")},
        {"name": "Transfer-Encoding chunked",
         "text": req_text(rfc_server_headers + [("Transfer-Encoding", "chunked")]), "expect": sfail(400, "HeaderError")},
        {"name": "POST", "text": req_text(rfc_server_headers, "POST /chat HTTP/1.1"), "expect": sfail(405, "NotAWebSocket")},
        {"name": "HTTP/1.0", "text": req_text(rfc_server_headers, "GET /chat HTTP/1.0"), "expect": sfail(505, "NotAWebSocket")},
        {"name": "missing Host", "text": req_text(without("Host")), "expect": sfail(400, "HeaderError")},
        {"name": "missing Upgrade", "text": req_text(without("Upgrade")), "expect": sfail(426, "NotAWebSocket")},
        {"name": "incorrect Upgrade", "text": req_text(replace("Upgrade", "h2c")), "expect": sfail(426, "NotAWebSocket")},
        {"name": "missing Connection", "text": req_text(without("Connection")), "expect": sfail(400, "HeaderError")},
        {"name": "incorrect Connection", "text": req_text(replace("Connection", "keep-alive")), "expect": sfail(400, "HeaderError")},
        {"name": "version 8", "text": req_text(replace("Sec-WebSocket-Version", "8")), "expect": sfail(426, "UnsupportedVersion")},
        {"name": "missing version", "text": req_text(without("Sec-WebSocket-Version")), "expect": sfail(426, "UnsupportedVersion")},
        {"name": "missing key", "text": req_text(without("Sec-WebSocket-Key")), "expect": sfail(400, "HeaderError")},
        {"name": "key of 15 bytes", "text": req_text(replace("Sec-WebSocket-Key", key15)), "expect": sfail(400, "HeaderError")},
        {"name": "key of 17 bytes", "text": req_text(replace("Sec-WebSocket-Key", key17)), "expect": sfail(400, "HeaderError")},
        {"name": "key that is not base64", "text": req_text(replace("Sec-WebSocket-Key", "not base64 at all!!!!!==")),
         "expect": sfail(400, "HeaderError")},
        {"name": "subprotocol that is not a token", "text": req_text(replace("Sec-WebSocket-Protocol", "chat room")),
         "expect": sfail(400, "HeaderError")},
        {"name": "malformed Sec-WebSocket-Extensions", "text": req_text(rfc_server_headers + [("Sec-WebSocket-Extensions", "a; b=")]),
         "expect": sfail(400, "HeaderError")},
        {"name": "more than 64 headers (the default maxHandshakeHeaders)", "text": req_text(rfc_server_headers + many),
         "expect": sfail(431, "HeaderError")},
        {"name": "more than maxHandshakeHeaders (8) headers", "options": {"maxHandshakeHeaders": 8},
         "text": req_text(rfc_server_headers + many[:2]), "expect": sfail(431, "HeaderError")},
        {"name": "exactly maxHandshakeHeaders (8) headers", "options": {"maxHandshakeHeaders": 8}, "select": None,
         "text": req_text(rfc_server_headers + many[:1]),
         "expect": sok(sample_key, "/chat", ["chat", "superchat"], [], None, "server.example.com")},
        {"name": "head larger than maxHandshakeHeaderBytes (256)", "options": {"maxHandshakeHeaderBytes": 256},
         "text": req_text(rfc_server_headers + [("X-Big", "b" * 200)]), "expect": sfail(431, "HeaderError")},
        {"name": "HTTP/2 connection preface instead of an HTTP/1.1 request", "text": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
         "expect": sfail(400, "NotAWebSocket")},
        {"name": "not HTTP at all", "text": "hello there\r\n\r\n", "expect": sfail(400, "NotAWebSocket")},
    ]

    extensions = [
        {"header": "permessage-deflate", "parsed": [{"name": "permessage-deflate", "params": []}]},
        {"header": "permessage-deflate; client_max_window_bits",
         "parsed": [{"name": "permessage-deflate", "params": [["client_max_window_bits", None]]}]},
        {"header": "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
         "parsed": [{"name": "permessage-deflate",
                     "params": [["client_max_window_bits", "10"], ["server_no_context_takeover", None]]}]},
        {"header": "permessage-deflate; server_max_window_bits=\"10\"",
         "parsed": [{"name": "permessage-deflate", "params": [["server_max_window_bits", "10"]]}]},
        {"header": "a; b=\"1\\0\"", "parsed": [{"name": "a", "params": [["b", "10"]]}]},
        {"header": "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
         "parsed": [{"name": "permessage-deflate", "params": [["client_max_window_bits", None], ["server_max_window_bits", "10"]]},
                    {"name": "permessage-deflate", "params": []}]},
        {"header": "foo ;  x=1 ,\tbar;y", "parsed": [{"name": "foo", "params": [["x", "1"]]}, {"name": "bar", "params": [["y", None]]}]},
        {"header": ", a,, b ,", "parsed": [{"name": "a", "params": []}, {"name": "b", "params": []}]},
        {"header": "", "parsed": []},
    ]
    for h in ["a;", "a; =1", "a; b=", "a; b=\"x", "a b", "a; b=\"x y\"", ";a", "a; b=@", "a=1", "a; b=1=2"]:
        extensions.append({"header": h, "error": True})

    h2_req = {"host": "example.com", "path": "/chat", "subprotocols": ["chat", "superchat"],
              "headers": [["Origin", "https://example.com"]]}
    h2 = {
        "client": [
            {"name": "extended CONNECT with subprotocols", "scheme": "https", "request": h2_req,
             "expectedPseudo": {":method": "CONNECT", ":protocol": "websocket", ":scheme": "https",
                                ":authority": "example.com", ":path": "/chat"},
             "expectedHeaders": [["sec-websocket-version", "13"], ["sec-websocket-protocol", "chat, superchat"],
                                 ["origin", "https://example.com"]],
             "responses": [
                 {"name": "200 selecting chat", "status": 200, "headers": [["sec-websocket-protocol", "chat"]], "expect": ok("chat")},
                 {"name": "200 selecting none", "status": 200, "headers": [], "expect": ok(None)},
                 {"name": "404", "status": 404, "headers": [], "expect": fail("NotAWebSocket", 404)},
                 {"name": "200 selecting an unoffered subprotocol", "status": 200,
                  "headers": [["sec-websocket-protocol", "other"]], "expect": fail("UnsupportedProtocol", 200)},
                 {"name": "200 accepting an unoffered extension", "status": 200,
                  "headers": [["sec-websocket-extensions", "permessage-deflate"]], "expect": fail("UnsupportedProtocol", 200)},
             ]},
            {"name": "extended CONNECT over http, no offers", "scheme": "http",
             "request": {"host": "localhost:8080", "path": "/", "subprotocols": [], "headers": []},
             "expectedPseudo": {":method": "CONNECT", ":protocol": "websocket", ":scheme": "http",
                                ":authority": "localhost:8080", ":path": "/"},
             "expectedHeaders": [["sec-websocket-version", "13"]],
             "responses": [{"name": "200", "status": 200, "headers": [], "expect": ok(None)}]},
            {"name": "refused: connection-specific header", "scheme": "https",
             "request": {"host": "example.com", "path": "/", "subprotocols": [], "headers": [["Keep-Alive", "5"]]},
             "requestError": "InvalidArgument", "responses": []},
            {"name": "refused: scheme ws", "scheme": "ws",
             "request": {"host": "example.com", "path": "/", "subprotocols": [], "headers": []},
             "requestError": "InvalidArgument", "responses": []},
        ],
        "server": [],
    }

    def h2s(name, headers, expect, method="CONNECT", protocol="websocket", scheme="https", path="/chat",
            authority="example.com", select=None):
        return {"name": name, "method": method, "protocol": protocol, "scheme": scheme, "path": path,
                "authority": authority, "headers": headers, "select": select, "expect": expect}

    good = [["sec-websocket-version", "13"], ["sec-websocket-protocol", "chat, superchat"]]
    h2["server"] = [
        h2s("valid, select chat", good, {"ok": True, "path": "/chat", "host": "example.com", "protocols": ["chat", "superchat"],
                                         "extensions": [], "acceptHeaders": [["sec-websocket-protocol", "chat"]]}, select="chat"),
        h2s("valid, extensions offered, select none",
            [["sec-websocket-version", "13"], ["sec-websocket-extensions", "permessage-deflate"]],
            {"ok": True, "path": "/chat", "host": "example.com", "protocols": [], "extensions": ["permessage-deflate"],
             "acceptHeaders": []}),
        h2s("method GET", good, sfail(405, "NotAWebSocket"), method="GET"),
        h2s("CONNECT without :protocol", good, sfail(400, "NotAWebSocket"), protocol=None),
        h2s(":protocol other than websocket", good, sfail(501, "NotAWebSocket"), protocol="webtransport"),
        h2s("missing :path", good, sfail(400, "HeaderError"), path=None),
        h2s("missing :scheme", good, sfail(400, "HeaderError"), scheme=None),
        h2s("missing :authority", good, sfail(400, "HeaderError"), authority=None),
        h2s("empty :path", good, sfail(400, "HeaderError"), path=""),
        h2s("connection-specific header", good + [["connection", "keep-alive"]], sfail(400, "HeaderError")),
        h2s("version 8", [["sec-websocket-version", "8"]], sfail(426, "UnsupportedVersion")),
        h2s("missing version", [], sfail(426, "UnsupportedVersion")),
    ]
    out = {"client": client, "server": server, "extensions": extensions, "h2": h2}
    assert json.dumps(out).isascii(), "handshake texts must be ASCII"
    return out


# ------------------------------------------------------------- lifecycle.json


def lifecycle():
    """Scripted connections: peer bytes, the peer's end, time, application calls;
    the states, results, frames written and the transport's fate (RFC 6455
    sections 5.5.1, 7.1 and 7.4; the .NET ClientWebSocket states)."""
    S, C = "server", "client"

    def pf(role, op, payload=b"", fin=True, rsv=0):
        """A frame as the peer of a `role` session sends it."""
        return frame(op, payload, fin, rsv, KEY_A if role == S else None).hex()

    def closef(code, reason=b""):
        return close_payload(code, reason)

    def w_close(code, reason=""):
        """A Close we write; reason None: the engine's own message, not compared."""
        f = {"op": "close", "code": code}
        if reason is not None:
            f["reason"] = reason
        return f

    def w(op, data=b""):
        return {"op": op, "dataHex": bytes(data).hex()}

    def text(s, end=True):
        return {"type": "text", "dataHex": s.encode().hex(), "end": end}

    def closed(code, reason=""):
        return {"type": "close", "code": code, "reason": reason}

    def err(kind):
        return {"error": kind}

    def lc(name, role, steps, options=None, known_bug=None):
        c = {"name": name, "role": role}
        if options is not None:
            c["options"] = options
        c["steps"] = steps
        if known_bug:
            c["knownBug"] = known_bug
        return c

    def step(action, **expect):
        s = dict(action)
        if expect:
            s["expect"] = expect
        return s

    cases = []
    for role in (C, S):
        cases += [
            lc(f"{role}: the peer sends its Close and half-closes; we still answer it (RFC 6455 5.5.1)", role, [
                step({"peer": pf(role, CLOSE, closef(1000, b"bye"))}),
                step({"peerEnd": True}, state="Open", transport="open", wrote=[]),
                step({"receive": {}}, result=closed(1000, "bye"), state="CloseReceived", closeStatus=1000),
                step({"closeOutput": {"code": 1000, "reason": ""}}, result="ok", state="Closed",
                     wrote=[w_close(1000)], transport="closed"),
            ]),
            lc(f"{role}: the state follows what receive returned, not what was read", role, [
                step({"peer": pf(role, TEXT, b"a") + pf(role, TEXT, b"b") + pf(role, CLOSE, closef(1001))},
                     state="Open", closeStatus=None),
                step({"receive": {}}, result=text("a"), state="Open"),
                step({"receive": {}}, result=text("b"), state="Open", closeStatus=None),
                step({"receive": {}}, result=closed(1001), state="CloseReceived", closeStatus=1001),
                step({"receive": {}}, result=err("InvalidState"), state="CloseReceived"),
            ]),
            lc(f"{role}: an end before any Close fails the connection after the data before it", role, [
                step({"peer": pf(role, TEXT, b"last")}),
                step({"peerEnd": True}, state="Open", transport="closed"),
                step({"send": {"type": "text", "dataHex": b"late".hex()}}, result=err("ConnectionClosedPrematurely"),
                     state="Aborted"),
                step({"receive": {}}, result=text("last"), state="Aborted"),
                step({"receive": {}}, result=err("ConnectionClosedPrematurely"), state="Aborted"),
            ]),
            lc(f"{role}: a protocol error is reported after the data before it, with Close 1002 on the wire", role, [
                step({"peer": pf(role, TEXT, b"ok") + pf(role, 0x3)},
                     state="Open", wrote=[w_close(1002, None)]),
                step({"receive": {}}, result=text("ok"), state="Open"),
                step({"receive": {}}, result=err("Faulted"), state="Aborted"),
            ]),
            lc(f"{role}: close() waits for the peer's Close and takes none of the messages before it", role, [
                step({"close": {"code": 1000, "reason": "done"}}, state="CloseSent", wrote=[w_close(1000, "done")]),
                step({"peer": pf(role, TEXT, b"x") + pf(role, CLOSE, closef(1000))}),
                step({"closeDone": True}, result="ok", state="Closed", closeStatus=1000),
                step({"receive": {}}, result=text("x"), state="Closed"),
                step({"receive": {}}, result=closed(1000), state="Closed"),
            ]),
            lc(f"{role}: after abort every call fails and nothing buffered is delivered", role, [
                step({"peer": pf(role, TEXT, b"x")}),
                step({"abort": True}, state="Aborted", transport="dropped"),
                step({"receive": {}}, result=err("InvalidState")),
                step({"send": {"type": "text", "dataHex": "61"}}, result=err("InvalidState")),
                step({"closeOutput": {"code": 1000, "reason": ""}}, result=err("InvalidState"), state="Aborted",
                     wrote=[]),
            ]),
            lc(f"{role}: the peer does not answer our Close within closeTimeout", role, [
                step({"closeOutput": {"code": 1000, "reason": ""}}, result="ok", state="CloseSent",
                     wrote=[w_close(1000)]),
                step({"wait": 999}, transport="open"),
                step({"wait": 1}, transport="dropped", state="CloseSent"),
                step({"receive": {}}, result=err("Faulted"), state="Aborted"),
            ], options={"closeTimeout": 1000}),
            lc(f"{role}: the peer ends its side while we wait for its Close", role, [
                step({"closeOutput": {"code": 1000, "reason": ""}}, result="ok"),
                step({"peerEnd": True}, transport="closed"),
                step({"receive": {}}, result=err("ConnectionClosedPrematurely"), state="Aborted"),
            ]),
            lc(f"{role}: a reset before the close handshake fails it after the data before it", role, [
                step({"peer": pf(role, TEXT, b"x")}),
                step({"peerReset": True}, transport="dropped", state="Open"),
                step({"receive": {}}, result=text("x")),
                step({"receive": {}}, result=err("ConnectionClosedPrematurely"), state="Aborted"),
            ]),
            lc(f"{role}: data may be sent after the peer's Close, then our Close answers it", role, [
                step({"peer": pf(role, CLOSE, closef(4000, b"later"))}),
                step({"receive": {}}, result=closed(4000, "later"), state="CloseReceived"),
                step({"send": {"type": "binary", "dataHex": "0102"}}, result="ok", wrote=[w("binary", b"\x01\x02")]),
                step({"closeOutput": {"code": 4000, "reason": ""}}, result="ok", state="Closed",
                     wrote=[w_close(4000)]),
                step({"send": {"type": "text", "dataHex": "61"}}, result=err("InvalidState")),
            ]),
            lc(f"{role}: while the peer reads nothing, only the newest PING is answered (RFC 6455 5.5.3)", role, [
                step({"peerReading": False}),
                step({"peer": pf(role, PING, b"1")}),
                step({"peer": pf(role, PING, b"2")}),
                step({"peer": pf(role, PING, b"3")}),
                step({"peerReading": True}, wrote=[w("pong", b"1"), w("pong", b"3")]),
            ]),
            lc(f"{role}: keep-alive PING/PONG aborts a silent peer", role, [
                step({"wait": 999}, wrote=[]),
                step({"wait": 1}, wrote=[w("ping", (1).to_bytes(8, "big"))]),
                step({"wait": 499}, transport="open"),
                step({"wait": 1}, transport="dropped", state="Open"),
                step({"receive": {}}, result=err("Faulted"), state="Aborted"),
            ], options={"keepAliveInterval": 1000, "keepAliveTimeout": 500}),
            lc(f"{role}: keep-alive stops once the peer's Close is read", role, [
                step({"peer": pf(role, CLOSE, closef(1000))}),
                step({"wait": 5000}, wrote=[], transport="open"),
                step({"receive": {}}, result=closed(1000)),
            ], options={"keepAliveInterval": 1000, "keepAliveTimeout": 500}),
        ]
    # Who ends the transport first after the close handshake (RFC 6455 7.1.1).
    cases += [
        lc("server: after the close handshake the server ends its side first, then waits for the client's end", S, [
            step({"peer": pf(S, CLOSE, closef(1000))}),
            step({"receive": {}}, result=closed(1000)),
            step({"closeOutput": {"code": 1000, "reason": ""}}, wrote=[w_close(1000)], transport="writeShut"),
            step({"peerEnd": True}, transport="closed"),
        ]),
        lc("server: a client that never ends its side is let go after the linger (2 s)", S, [
            step({"closeOutput": {"code": 1000, "reason": ""}}, wrote=[w_close(1000)], transport="open"),
            step({"peer": pf(S, CLOSE, closef(1000))}, transport="writeShut"),
            step({"wait": 1999}, transport="writeShut"),
            step({"wait": 1}, transport="closed"),
        ]),
        lc("client: after the close handshake the client waits for the server to end first", C, [
            step({"closeOutput": {"code": 1000, "reason": ""}}, wrote=[w_close(1000)]),
            step({"peer": pf(C, CLOSE, closef(1000))}, transport="open"),
            step({"peerEnd": True}, transport="closed"),
            step({"receive": {}}, result=closed(1000), state="Closed"),
        ]),
        lc("client: a server that never ends its side is let go after the linger (2 s)", C, [
            step({"peer": pf(C, CLOSE, closef(1000))}),
            step({"receive": {}}, result=closed(1000)),
            step({"closeOutput": {"code": 1000, "reason": ""}}, wrote=[w_close(1000)], transport="open"),
            step({"wait": 1999}, transport="open"),
            step({"wait": 1}, transport="closed"),
        ]),
        lc("client: a reset after the close handshake is only the end", C, [
            step({"closeOutput": {"code": 1000, "reason": ""}}),
            step({"peer": pf(C, CLOSE, closef(1000))}),
            step({"peerReset": True}, transport="dropped"),
            step({"receive": {}}, result=closed(1000), state="Closed"),
        ]),
        lc("server: after failing with a Close, the server ends its side and waits for the client's end", S, [
            step({"peer": pf(S, TEXT, b"\xff")}, wrote=[w_close(1007, None)], transport="writeShut"),
            step({"peerEnd": True}, transport="closed"),
            step({"receive": {}}, result=err("Faulted"), state="Aborted"),
        ]),
        lc("server: a stream-created socket applies dangerousDeflateOptions as agreed", S, [
            # "Hello" compressed with an empty context (RFC 7692 section 7.2.3.1), RSV1 set.
            step({"peer": pf(S, TEXT, bytes.fromhex("f248cdc9c90700"), rsv=RSV1)}),
            step({"receive": {}}, result=text("Hello")),
        ], options={"dangerousDeflateOptions": {}}),
    ]
    return {"cases": cases}


def dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def main():
    outputs = {
        "frames.json": dump(frames()),
        "sessions.json": dump(sessions()),
        "handshakes.json": dump(handshakes()),
        "lifecycle.json": dump(lifecycle()),
    }
    stale = []
    for name, text in outputs.items():
        path = OUT / name
        if "--check" in sys.argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.exit("stale vectors (rerun tests/vectors/gen/gen_vectors.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
