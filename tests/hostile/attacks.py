#!/usr/bin/env python3
"""The standing attack suite: hostile clients against a running sockweave
server, on 127.0.0.1, with real sockets. Every check asserts on a status
code, on what happens to the connection, or on the server's memory (see
rss()): never on how long something took. Waits have generous bounds
only so that a broken server fails the check instead of hanging the run.

    attacks.py --name native --port P --pid PID [--tls-port P] [--h2]
    attacks.py --name npm --port P --http-port P --pid PID

The server must be started with the allowed origin https://app.example,
without allowMissingOrigin, with a handshake timeout of about 2 s and (for
--h2) an HTTP/2 idle timeout of about 3 s: tests/hostile/run.sh does that.

Prints `ok   ...` / `FAIL ...` per check and `REPORT ...` lines with the
memory figures; exits 1 if any check failed.
"""

import argparse
import base64
import os
import socket
import struct
import sys
import time

ORIGIN = "https://app.example"
MIB = 1 << 20
FAILS = []


def ok(msg):
    print(f"ok   {msg}", flush=True)


def bad(msg):
    FAILS.append(msg)
    print(f"FAIL {msg}", flush=True)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        bad(f"{msg}{': ' + detail if detail else ''}")


MEM_FILE = None


def rss(pid):
    """The server's memory in bytes. Native: resident memory (VmRSS). Node:
    live memory after a full garbage collection (used V8 heap + external +
    wasm linear memory), which tests/hostile/npm_server.js writes to
    MEM_FILE on SIGUSR2: its RSS also counts the garbage V8 keeps pages for."""
    if MEM_FILE:
        import json
        import signal
        try:
            os.unlink(MEM_FILE)
        except FileNotFoundError:
            pass
        os.kill(pid, signal.SIGUSR2)
        for _ in range(100):
            time.sleep(0.05)
            try:
                with open(MEM_FILE) as f:
                    m = json.load(f)
                return m["heapUsed"] + m["external"] + m["wasm"]
            except (FileNotFoundError, ValueError):
                continue
        raise RuntimeError("the npm server did not report its memory")
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def connect(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(path="/", origin=ORIGIN, extra=()):
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin1")


def read_head(s, limit=64 * 1024):
    """Reads an HTTP response head; returns (status, rest) or (None, b'') if
    the connection ended first."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
        if len(buf) > limit:
            return None, b""
    head, rest = buf.split(b"\r\n\r\n", 1)
    return int(head.split(b" ", 2)[1]), rest


def status_of(port, raw):
    s = connect(port)
    try:
        s.sendall(raw)
        return read_head(s)[0]
    finally:
        s.close()


def upgrade(port, origin=ORIGIN):
    s = connect(port)
    s.sendall(request(origin=origin))
    status, rest = read_head(s)
    if status != 101:
        raise RuntimeError(f"handshake answered {status}")
    return s, rest


def frame(opcode, payload=b"", fin=True, mask=True, length=None):
    """A client frame; `length` overrides the announced payload length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 else xor_long(payload, key)
    return head + key + masked


def xor_long(payload, key):
    k = int.from_bytes(key * (len(payload) // 4 + 1), "little")
    return (int.from_bytes(payload, "little") ^ (k & ((1 << (8 * len(payload))) - 1))).to_bytes(len(payload), "little")


def read_until_end(s, cap=1 << 20):
    """Everything the server sends until it ends the connection."""
    out = b""
    while len(out) < cap:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    return out


def ended(s):
    """True once the server has ended the connection (FIN or reset)."""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def close_code(data):
    """The code of the first Close frame in server bytes (unmasked)."""
    i = 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack("!H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack("!Q", data[i:i + 8])[0]
            i += 8
        if op == 8:
            return struct.unpack("!H", data[i:i + 2])[0] if n >= 2 else None
        i += n
    return None


# ---------------------------------------------------------------- handshakes


def smuggling(port, name):
    base = request()[:-2]
    cases = [
        ("Content-Length 5 and a body", base + b"Content-Length: 5\r\n\r\nhello"),
        ("two conflicting Content-Length", base + b"Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello"),
        ("Transfer-Encoding chunked", base + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ]
    for what, raw in cases:
        st = status_of(port, raw)
        check(st == 400, f"{name}: upgrade with {what} gets 400", f"got {st}")


def origins(port, name):
    st = status_of(port, request(origin="https://evil.example"))
    check(st == 403, f"{name}: a page from another origin gets 403", f"got {st}")
    st = status_of(port, request(origin=None))
    check(st == 403, f"{name}: no Origin without allowMissingOrigin gets 403", f"got {st}")
    st = status_of(port, request(origin=ORIGIN))
    check(st == 101, f"{name}: the allowed origin gets 101", f"got {st}")


def oversized_heads(port, name):
    st = status_of(port, request(extra=[f"X-Big: {'a' * 64 * 1024}"]))
    check(st == 431, f"{name}: a 64 KiB header gets 431", f"got {st}")
    st = status_of(port, request(extra=[f"X-H{i}: v" for i in range(500)]))
    check(st == 431, f"{name}: 500 headers get 431", f"got {st}")


def slowloris(port, name):
    """A head that never ends, one byte at a time: the handshake timeout
    (about 2 s) must end the connection; 30 s is only the give-up bound."""
    s = connect(port, timeout=1)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    gone = False
    for i in range(30):
        try:
            s.sendall(b"X-Slow-%d: v\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            gone = True
            break
        if ended(s):
            gone = True
            break
    s.close()
    check(gone, f"{name}: a slowloris head is cut off by the handshake timeout")


def silent_tls(port, name):
    """A TCP client that never starts its TLS handshake."""
    s = connect(port, timeout=30)
    check(ended(s), f"{name}: a client that never finishes its TLS handshake is cut off by the handshake timeout")
    s.close()


# ---------------------------------------------------------------- frames


def huge_length(port, name):
    s, _ = upgrade(port)
    s.sendall(frame(0x2, length=1 << 63)[:10] + os.urandom(4))
    data = read_until_end(s)
    code = close_code(data)
    check(code == 1002, f"{name}: a 2^63 frame length gets Close 1002 and the end of the connection", f"got {code}")
    s.close()


def flood(port, pid, name, what, frames, total, bound):
    """Writes `frames` until `total` bytes or until the server stops reading
    (it must: the client never reads), then compares the server's memory."""
    s, _ = upgrade(port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    before = rss(pid)
    s.setblocking(False)
    sent = 0
    stalled_since = None
    blob = b"".join(frames)
    view = memoryview(blob)
    pos = 0
    while sent < total:
        try:
            n = s.send(view[pos:pos + 256 * 1024])
            sent += n
            pos = (pos + n) % len(blob)
            if pos == 0:
                view = memoryview(blob)
            stalled_since = None
        except BlockingIOError:
            now = time.monotonic()
            stalled_since = stalled_since or now
            # The server has stopped reading for a while: it holds back, as it should.
            if now - stalled_since > 3:
                break
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            break
    peak = rss(pid)
    grew = peak - before
    print(f"REPORT hostile {name} {what}: sent {sent / MIB:.1f} MiB, server memory "
          f"{before / MIB:.1f} -> {peak / MIB:.1f} MiB (+{grew / MIB:.1f} MiB)", flush=True)
    check(grew < bound, f"{name}: {what} with a non-reading client keeps server memory bounded "
          f"(+{grew / MIB:.1f} MiB < {bound / MIB:.0f} MiB after {sent / MIB:.0f} MiB)")
    s.close()


# ---------------------------------------------------------------- HTTP/2


def h2_conn(port):
    import h2.config
    import h2.connection
    s = connect(port, timeout=30)
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c


def h2_pump(s, c, wait):
    """Reads what arrives within `wait` seconds; returns the events, or None
    once the connection has ended."""
    s.settimeout(wait)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return []
    except ConnectionResetError:
        return None
    if not data:
        return None
    events = c.receive_data(data)
    out = c.data_to_send()
    if out:
        try:
            s.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            return None
    return events


def h2_settings(port, name, streams):
    import h2.events
    s, c = h2_conn(port)
    got = None
    for _ in range(50):
        ev = h2_pump(s, c, 0.2)
        if ev is None:
            break
        for e in ev:
            if isinstance(e, h2.events.RemoteSettingsChanged):
                got = c.remote_settings.max_concurrent_streams
        if got is not None:
            break
    s.close()
    check(got == streams, f"{name}: HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS is {streams}", f"got {got}")


def h2_bodies(port, pid, name, bound):
    """40 POST streams, 4 MiB each, never finished; then silence. The server
    must hold back credit, reset the stalled streams and close the idle
    connection with GOAWAY."""
    import h2.events
    s, c = h2_conn(port)
    h2_pump(s, c, 0.5)
    before = rss(pid)
    streams = {}
    for _ in range(40):
        sid = c.get_next_available_stream_id()
        c.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "127.0.0.1"),
                             (":path", "/upload"), ("content-type", "application/octet-stream")])
        streams[sid] = 4 * MIB
    s.sendall(c.data_to_send())
    chunk = b"x" * 16384
    sent = 0
    idle = 0
    reset = set()
    goaway = False
    deadline = time.monotonic() + 60
    peak = before
    while time.monotonic() < deadline and not goaway:
        # The highest resident size while the streams are open, not only at the end.
        peak = max(peak, rss(pid))
        progressed = False
        for sid, left in streams.items():
            if sid in reset or left == 0:
                continue
            w = min(c.local_flow_control_window(sid), c.max_outbound_frame_size, left)
            if w > 0:
                c.send_data(sid, chunk[:w])
                streams[sid] -= w
                sent += w
                progressed = True
        out = c.data_to_send()
        if out:
            try:
                s.sendall(out)
            except (BrokenPipeError, ConnectionResetError):
                break
        ev = h2_pump(s, c, 0.05 if progressed else 0.5)
        if ev is None:
            break
        for e in ev:
            if isinstance(e, h2.events.StreamReset):
                reset.add(e.stream_id)
            if isinstance(e, h2.events.ConnectionTerminated):
                goaway = True
        if not progressed:
            idle += 1
            if idle > 4 and sent >= 40 * 4 * MIB:
                break
        else:
            idle = 0
    peak = max(peak, rss(pid))
    grew = peak - before
    print(f"REPORT hostile {name} HTTP/2 40 streams x 4 MiB unfinished: sent {sent / MIB:.1f} MiB, server memory "
          f"{before / MIB:.1f} -> peak {peak / MIB:.1f} MiB (+{grew / MIB:.1f} MiB)", flush=True)
    check(grew < bound, f"{name}: 40 unfinished 4 MiB HTTP/2 bodies keep server memory bounded "
          f"(+{grew / MIB:.1f} MiB < {bound / MIB:.0f} MiB)")
    check(sent < 40 * 4 * MIB, f"{name}: the server held back flow-control credit "
          f"(the client could send {sent / MIB:.1f} of 160 MiB)")
    # Silence now: every stalled stream is reset, then the connection ends with GOAWAY.
    end = time.monotonic() + 30
    while time.monotonic() < end and not goaway:
        ev = h2_pump(s, c, 0.5)
        if ev is None:
            break
        for e in ev:
            if isinstance(e, h2.events.StreamReset):
                reset.add(e.stream_id)
            if isinstance(e, h2.events.ConnectionTerminated):
                goaway = True
    check(len(reset) == 40, f"{name}: stalled request bodies are reset by the idle timeout",
          f"{len(reset)} of 40 reset")
    check(goaway, f"{name}: the idle HTTP/2 connection gets GOAWAY")
    s.close()


def h2_idle(port, name):
    import h2.events
    s, c = h2_conn(port)
    goaway = False
    end = time.monotonic() + 30
    while time.monotonic() < end:
        ev = h2_pump(s, c, 0.5)
        if ev is None:
            break
        if any(isinstance(e, h2.events.ConnectionTerminated) for e in ev):
            goaway = True
            break
    check(goaway, f"{name}: an HTTP/2 connection with no stream gets GOAWAY after the idle timeout")
    s.close()


def h2_rapid_reset(port, pid, name, bound):
    """Streams opened and reset at once (CVE-2023-44487): the server ends the
    connection long before 20,000, and a new connection is still served."""
    import h2.errors
    import h2.events
    s, c = h2_conn(port)
    h2_pump(s, c, 0.5)
    before = rss(pid)
    n = 0
    code = None
    try:
        while n < 20000 and code is None:
            for _ in range(100):
                sid = c.get_next_available_stream_id()
                c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                                     (":path", "/")], end_stream=True)
                c.reset_stream(sid)
                n += 1
            s.sendall(c.data_to_send())
            ev = h2_pump(s, c, 0.001)
            for e in ev or []:
                if isinstance(e, h2.events.ConnectionTerminated):
                    code = e.error_code
            if ev is None:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    # Whatever the server said last before it closed.
    while code is None:
        ev = h2_pump(s, c, 1)
        if not ev:
            break
        for e in ev:
            if isinstance(e, h2.events.ConnectionTerminated):
                code = e.error_code
    peak = rss(pid)
    s.close()
    grew = peak - before
    print(f"REPORT hostile {name} HTTP/2 rapid reset: {n} streams, server memory +{grew / MIB:.1f} MiB", flush=True)
    check(grew < bound, f"{name}: HTTP/2 rapid reset keeps server memory bounded (+{grew / MIB:.1f} MiB)")
    check(code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM and n < 20000,
          f"{name}: HTTP/2 rapid reset ends the connection with GOAWAY ENHANCE_YOUR_CALM", f"{code} after {n} streams")
    # The server still serves a new connection.
    s, c = h2_conn(port)
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"), (":path", "/")],
                   end_stream=True)
    s.sendall(c.data_to_send())
    status = None
    for _ in range(100):
        ev = h2_pump(s, c, 0.3)
        if ev is None:
            break
        for e in ev:
            if isinstance(e, h2.events.ResponseReceived):
                status = dict(e.headers).get(":status")
        if status:
            break
    s.close()
    check(status == "200", f"{name}: after the rapid reset a new HTTP/2 connection is served", f"status {status}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--h2", action="store_true")
    ap.add_argument("--max-streams", type=int, default=128)
    a = ap.parse_args()
    name = a.name
    global MEM_FILE
    MEM_FILE = os.environ.get("HOSTILE_MEM_FILE") if name == "npm" else None
    # What a flood may add to the server: the engine's buffers are a few
    # hundred KiB per connection; the rest is allocator slack.
    bound = 24 * MIB

    smuggling(a.port, name)
    if a.http_port:
        smuggling(a.http_port, f"{name} (node:http upgrade)")
    origins(a.port, name)
    oversized_heads(a.port, name)
    slowloris(a.port, name)
    if a.tls_port:
        silent_tls(a.tls_port, name)
    huge_length(a.port, name)
    flood(a.port, a.pid, name, "PING flood (125-byte PINGs)", [frame(0x9, b"p" * 125) for _ in range(64)],
          128 * MIB, bound)
    flood(a.port, a.pid, name, "data flood (1 MiB echo messages)", [frame(0x2, os.urandom(MIB))],
          256 * MIB, bound)
    flood(a.port, a.pid, name, "empty message flood", [frame(0x2) for _ in range(4096)], 64 * MIB, bound)
    if a.h2:
        h2_settings(a.port, name, a.max_streams)
        h2_bodies(a.port, a.pid, name, bound)
        h2_idle(a.port, name)
        h2_rapid_reset(a.port, a.pid, name, bound)

    print(f"{name}: {len(FAILS)} failed")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
