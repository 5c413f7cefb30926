"""Differential fuzz of the ASGI interface: prefork against uvicorn (httptools for HTTP,
wsproto or websockets for WebSockets), one worker each, serving ``app`` below.

``app`` is a raw ASGI 3 app (no framework). For every HTTP request and WebSocket it
appends one JSON line to the file named by ``FUZZ_ASGI_EVENTS``: the canonical scope
(``dump``), every ``receive()`` message (body chunks joined), and what its sends
raised; its path says how to answer (``/m/<mode>/...``, ``/ws/<mode>``: ``HTTP_MODES``,
``WS_MODES``). The generator (``inputs``) writes the request streams real and hostile
clients send; the driver (``run``) sends each to both servers over loopback (the same
reads with the same pauses, a half-close or not), reads until the server closes or is
quiet for ``IDLE`` seconds, and compares per input: each response parsed (status,
reason, headers with Date's value masked and the framing kept apart, body), whether
the connection closed, the server's WebSocket frames, and the app's event lines.

What legitimately differs is removed by the rules of ``KNOWN`` in
tests/test_fuzz_asgi_uvicorn.py (each narrow, each with its reason); anything else is a
finding. An input that differs is run again with longer pauses before it counts. CI runs
a seeded batch (tests/test_fuzz_asgi_uvicorn.py); a long campaign:

    python tests/test_fuzz_asgi_uvicorn.py --inputs 5000 --seed 1 [--ws websockets]
"""

import asyncio
import base64
import json
import os
import random
import socket
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
WS_MAX = 4096  # --ws-max-size on both servers, so oversized messages are cheap
IDLE = 0.3  # seconds of quiet that end a connection's reading

# -- the app --------------------------------------------------------------------------------
HTTP_MODES = ["echo", "dup", "chunks", "chunks-cl", "after", "cl-short", "cl-long", "s204", "s304", "s205",
              "s418", "s599", "trailers", "raise-before", "raise-after", "raise-mid", "return", "return-start",
              "return-mid", "early", "conn-close", "te-app", "empty-more", "wait", "empty", "big", "s103", "head-cl"]
WS_MODES = ["accept", "sub", "hdr", "close", "deny", "raise", "return", "raise-after", "close-after"]


def dump(scope):
    """The scope's canonical form (strings as latin-1, the client's port left out)."""
    lat = lambda b: b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else repr(b)  # noqa: E731
    out = {k: scope.get(k) for k in ("type", "http_version", "method", "path", "root_path", "scheme", "asgi",
                                     "subprotocols")}
    out["raw_path"] = lat(scope.get("raw_path"))
    out["query_string"] = lat(scope.get("query_string"))
    out["headers"] = [[lat(k), lat(v)] for k, v in scope.get("headers", [])]
    out["server"] = scope["server"][0] if scope.get("server") else None
    client = scope.get("client")
    out["client"] = [client[0], type(client[1]).__name__] if client else None
    out["keys"] = sorted(k for k in scope if k != "app")
    out["extensions"] = sorted(scope.get("extensions") or ())
    return out


def mode_of(scope):
    raw, root = scope.get("raw_path", b""), scope.get("root_path", "").encode("latin-1")
    parts = (raw[len(root):] if root and raw.startswith(root) else raw).split(b"/")
    return parts[2].decode("latin-1") if len(parts) > 2 and parts[1] in (b"m", b"ws") else "echo"


def record(line):
    path = os.environ.get("FUZZ_ASGI_EVENTS")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(line) + "\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    rid = dict(scope.get("headers", [])).get(b"x-fuzz-id", b"").decode("latin-1")
    record({"id": rid, "ev": "begin"})
    seen, log = [], []
    try:
        if scope["type"] == "http":
            await http_app(scope, receive, send, seen, log)
        else:
            await ws_app(scope, receive, send, seen, log)
        log.append("returned")
    except Exception as err:
        log.append(["raised", type(err).__name__])
        raise
    finally:
        record({"id": rid, "ev": "end", "scope": dump(scope), "seen": seen, "log": log})


async def http_app(scope, receive, send, seen, log):
    mode = mode_of(scope)

    async def take():
        message = await receive()
        if message["type"] == "http.request" and seen and seen[-1][0] == "http.request" and seen[-1][2]:
            seen[-1] = ["http.request", seen[-1][1] + message.get("body", b"").hex(), message.get("more_body", False)]
        else:
            seen.append([message["type"], message.get("body", b"").hex(), message.get("more_body", False)])
        return message

    async def out(message):
        try:
            await send(message)
        except Exception as err:
            log.append(["send raised", message["type"], type(err).__name__])
            raise
    if mode != "early":
        while (await take()).get("more_body") and seen[-1][0] == "http.request":
            pass
    body = json.dumps(dump(scope)).encode()
    if mode in ("raise-mid", "return-mid"):  # a body cut short: not the dump (compared whole in the record)
        body = b"0123456789" * 30
    status = int(mode[1:]) if mode[:1] == "s" and mode[1:].isdigit() else 200
    headers = [(b"content-type", b"application/json")]
    if mode == "dup":
        headers += [(b"X-Dup", b"1"), (b"x-dup", b"2"), (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"),
                    (b"x-empty", b""), (b"x-sp", b" padded "), (b"x_under", b"1")]
    if mode in ("cl-short", "cl-long", "chunks-cl"):
        n = {"cl-short": len(body) + 5, "cl-long": 2, "chunks-cl": len(body)}[mode]
        headers.append((b"content-length", str(n).encode()))
    if mode == "conn-close":
        headers.append((b"connection", b"close"))
    if mode == "te-app":
        headers.append((b"transfer-encoding", b"chunked"))
    if mode == "empty":  # no headers, no body
        headers, body = [], b""
    if mode == "head-cl":  # the length a HEAD would have, no body
        headers.append((b"content-length", b"1000"))
        body = b""
    if mode == "raise-before":
        raise ValueError("before the start")
    if mode == "return":
        return
    start = {"type": "http.response.start", "status": status, "headers": headers}
    trailers = mode == "trailers" and "http.response.trailers" in (scope.get("extensions") or {})
    if trailers:  # only where the server offers the extension (neither does yet)
        start["trailers"] = True
    await out(start)
    if mode == "raise-after":
        raise ValueError("after the start")
    if mode == "return-start":
        return
    if mode == "big":  # 128 KiB in 8 messages: past the sockets' high-water marks
        for n in range(8):
            await out({"type": "http.response.body", "body": bytes([97 + n]) * 16384, "more_body": n < 7})
    elif mode in ("chunks", "chunks-cl", "raise-mid", "return-mid", "empty-more", "trailers"):
        third = len(body) // 3
        if mode == "empty-more":
            await out({"type": "http.response.body", "body": b"", "more_body": True})
        await out({"type": "http.response.body", "body": body[:third], "more_body": True})
        if mode == "raise-mid":
            raise ValueError("in the body")
        if mode == "return-mid":
            return
        await out({"type": "http.response.body", "body": body[third:2 * third], "more_body": True})
        await out({"type": "http.response.body", "body": body[2 * third:], "more_body": trailers})
        if trailers:
            await out({"type": "http.response.trailers", "headers": [(b"x-trailer", b"1")], "more_trailers": False})
    else:
        await out({"type": "http.response.body", "body": body})
    if mode == "after":
        await out({"type": "http.response.body", "body": b"late"})
    if mode == "wait":
        await take()


async def ws_app(scope, receive, send, seen, log):
    mode = mode_of(scope)
    first = await receive()
    seen.append([first["type"]])
    if mode == "raise":
        raise ValueError("before accept")
    if mode == "return":
        return
    if mode == "close":
        await send({"type": "websocket.close", "code": 1000})
        return
    if mode == "deny":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-denied", b"1")]})
        await send({"type": "websocket.http.response.body", "body": b"denied"})
        return
    accept = {"type": "websocket.accept"}
    if mode == "sub" and scope.get("subprotocols"):
        accept["subprotocol"] = scope["subprotocols"][0]
    if mode == "hdr":
        accept["headers"] = [(b"x-accepted", b"yes")]
    await send(accept)
    await send({"type": "websocket.send", "text": json.dumps(dump(scope))})
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            seen.append([kind, message.get("code")])
            return
        text, data = message.get("text"), message.get("bytes")
        seen.append([kind, text, data.hex() if data is not None else None])
        if mode == "raise-after":
            raise ValueError("after accept")
        if mode == "close-after" or text == "close":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": data})


# -- the generator ----------------------------------------------------------------------------
PATH_BITS = [b"a", b"%2F", b"%00", b"%zz", b"%E2%82%AC", b"\xff", b"%ff", b"a%20b", b"..", b"%2e%2e", b"~", b";p=1",
             b"@", b":", b"%25", b"+", b"\xc3\xa9", b"", b"%", b"%2", b"*"]
QUERIES = [b"", b"?", b"?a=1", b"?a=%zz&b=\xff", b"?x=%00;y", b"?q=a+b&q=c", b"?%E2%82%AC=\xe2\x82\xac", b"??",
           b"?a=1#frag", b"#frag", b"?a=%20 "[:-1], b"?/x?y"]
EXTRA_HEADERS = [b"X-Dup: 1\r\nX-Dup: 2\r\n", b"x_under: 1\r\n", b"X-Empty:\r\n", b"X-Empty2: \r\n",
                 b"X-Fold: a\r\n b\r\n", b"X-Latin: \xe9t\xe9\r\n", b"X-Tab: a\tb\r\n", b"Cookie: a=1\r\nCookie: b=2\r\n",
                 b"X-Forwarded-For: 10.0.0.1\r\n", b"X-Forwarded-Proto: https\r\n", b"Connection: close\r\n",
                 b"Connection: keep-alive\r\n", b"Upgrade: h2c\r\nConnection: Upgrade\r\n", b"X-UPPER: Abc\r\n",
                 b"Content-Type: text/plain\r\n", b"X-Trailing:  v  \r\n", b"X-Colon:: a\r\n", b"Host: y\r\n"]


def request(rng, rid, method=None, version=None):
    """One HTTP request's bytes and its method."""
    method = method or rng.choice([b"GET"] * 4 + [b"POST"] * 3 + [b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH"])
    version = version or rng.choice([b"1.1"] * 5 + [b"1.0"])
    raw = rng.random() < 0.15  # bytes over 0x7f in the target: both servers' parsers refuse them
    bits = PATH_BITS if raw else [b for b in PATH_BITS if b.isascii()]
    path = b"/m/" + rng.choice(HTTP_MODES).encode() + b"/" + b"/".join(rng.choice(bits) for _ in range(rng.randint(0, 3)))
    target = path + rng.choice(QUERIES if raw else [q for q in QUERIES if q.isascii()])
    roll = rng.random()
    if roll < 0.1:
        target = rng.choice([b"http://example.com:8080", b"HTTP://Example.com", b"https://h"]) + target
    elif roll < 0.12:
        target = b"*" if method == b"OPTIONS" else target
    head = b"%s %s HTTP/%s\r\n" % (method, target, version)
    if rng.random() > 0.03:
        head += b"Host: x\r\n"
    head += b"X-Fuzz-Id: %s\r\n" % rid
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        extra = rng.choice(EXTRA_HEADERS)
        if extra not in (b"X-Fold: a\r\n b\r\n", b"Host: y\r\n") or rng.random() < 0.3:  # refused by the server
            head += extra
    if version == b"1.0" and rng.random() < 0.5:
        head += b"Connection: keep-alive\r\n"
    body = b""
    framing = rng.choice(["none"] * 3 + ["length"] * 4 + ["chunked"] * 3 + ["both", "cl-twice", "cl-diff", "te-odd"]
                         if method not in (b"GET", b"HEAD") or rng.random() < 0.2 else ["none"])
    data = bytes(rng.choice(b"abcxyz\x00\xff") for _ in range(rng.choice([0, 1, 5, 100, 3000])))
    if framing == "length":
        head += b"Content-Length: %d\r\n" % len(data)
        body = data
    elif framing in ("chunked", "both"):
        head += b"Transfer-Encoding: chunked\r\n" + (b"Content-Length: 3\r\n" if framing == "both" else b"")
        ext = rng.choice([b"", b";a=b", b";a=\"q\"", b" ;x"])
        body = (b"%x%s\r\n%s\r\n" % (len(data), ext, data) if data else b"") + b"0\r\n"
        body += rng.choice([b"", b"X-T: 1\r\n", b"X-T: 1\r\nX-U: 2\r\n"]) + b"\r\n"
    elif framing == "cl-twice":
        head += b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(data), len(data))
        body = data
    elif framing == "cl-diff":
        head += b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(data), len(data) + 1)
        body = data
    elif framing == "te-odd":
        head += rng.choice([b"Transfer-Encoding: gzip, chunked\r\n", b"Transfer-Encoding: chunked, gzip\r\n",
                            b"Transfer-Encoding: identity\r\n", b"Transfer-Encoding: Chunked\r\n"])
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n"
    expect = body and rng.random() < 0.2
    if expect:
        head += b"Expect: 100-continue\r\n"
    return head + b"\r\n", body, method, expect


def ws_frame(rng, opcode, payload, fin=True, masked=True, rsv=0):
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload)
    size = bytes([n | (0x80 if masked else 0)]) if n < 126 else (
        struct.pack("!BH", 126 | (0x80 if masked else 0), n) if n < 65536 else struct.pack("!BQ", 255 if masked else 127, n))
    if not masked:
        return bytes([first]) + size + payload
    key = bytes(rng.randrange(256) for _ in range(4))
    return bytes([first]) + size + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_frames(rng):
    choices = [
        lambda: ws_frame(rng, 1, b"hello"), lambda: ws_frame(rng, 2, b"\x00\x01bin"),
        lambda: ws_frame(rng, 1, b"frag", fin=False) + ws_frame(rng, 0, b"ments"),
        lambda: ws_frame(rng, 1, b"fr", fin=False) + ws_frame(rng, 9, b"mid") + ws_frame(rng, 0, b"ag"),
        lambda: ws_frame(rng, 1, b"\xff\xfe bad"), lambda: ws_frame(rng, 1, b"\xe2\x82", fin=False) + ws_frame(rng, 0, b"\xac"),
        lambda: ws_frame(rng, 2, b"x" * (WS_MAX + 1)), lambda: ws_frame(rng, 1, b"unmasked", masked=False),
        lambda: ws_frame(rng, 9, b"ping"), lambda: ws_frame(rng, 10, b"pong"), lambda: ws_frame(rng, 1, b"rsv", rsv=2),
        lambda: ws_frame(rng, 3, b"op3"), lambda: ws_frame(rng, 0, b"cont"), lambda: ws_frame(rng, 1, b"close"),
        lambda: ws_frame(rng, 9, b"p" * 126), lambda: ws_frame(rng, 9, b"p", fin=False),
        lambda: ws_frame(rng, 8, struct.pack("!H", rng.choice([1000, 1001, 4000, 3000, 1005, 1006, 999, 1004, 2000,
                                                               5000, 1015, 1012])) + rng.choice([b"", b"why", b"\xff"])),
        lambda: ws_frame(rng, 8, b""), lambda: ws_frame(rng, 8, b"\x03"),
    ]
    return b"".join(rng.choice(choices)() for _ in range(rng.randint(0, 4)))


def ws_input(rng, rid):
    mode = rng.choice(WS_MODES)
    method = b"GET" if rng.random() > 0.05 else b"POST"
    head = b"%s /ws/%s?q=1 HTTP/1.1\r\nHost: x\r\nX-Fuzz-Id: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % (
        method, mode.encode(), rid)
    key = rng.choice([base64.b64encode(bytes(rng.randrange(256) for _ in range(16)))] * 8 + [None, b"short", b"=" * 24])
    if key is not None:
        head += b"Sec-WebSocket-Key: %s\r\n" % key
    version = rng.choice([b"13"] * 8 + [None, b"8"])
    if version is not None:
        head += b"Sec-WebSocket-Version: %s\r\n" % version
    if rng.random() < 0.4:
        head += rng.choice([b"Sec-WebSocket-Protocol: chat, other\r\n", b"Sec-WebSocket-Protocol: x\r\n"])
    if rng.random() < 0.3:
        head += rng.choice([b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
                            b"Sec-WebSocket-Extensions: x-unknown\r\n"])
    head += b"\r\n"
    frames = ws_frames(rng)
    steps = [head, frames] if frames and rng.random() < 0.85 else [head + frames]
    return {"kind": "ws", "steps": [s for s in steps if s], "half_close": rng.random() < 0.2, "methods": [method]}


def inputs(seed, count):
    rng = random.Random(seed)
    for n in range(count):
        rid = b"%d-%d" % (seed, n)
        if rng.random() < 0.25:
            item = ws_input(rng, rid)
        else:
            stream, methods, expects = b"", [], []
            for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
                head, body, method, expect = request(rng, rid)
                stream += head + body
                methods.append(method)
                expects.append((len(stream) - len(body), expect))
            cuts = sorted({at for at, expect in expects if expect} | {rng.randrange(1, len(stream))
                                                                      for _ in range(rng.choice([0, 0, 1, 2]))})
            steps = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)]) if stream[a:b]]
            item = {"kind": "http", "steps": steps, "half_close": rng.random() < 0.15, "methods": methods}
        item["id"] = rid.decode()
        yield item


# -- the servers ------------------------------------------------------------------------------
class Peer:
    """One server process serving ``app`` on a pre-bound loopback port; its event lines by id."""

    def __init__(self, name, ws="wsproto", root_path=""):
        from daemon import scratch_dir
        self.name, self.ws, self.root_path = name, ws, root_path
        self.dir = scratch_dir(f"fuzz-asgi-{name}-")
        self.events = os.path.join(self.dir, "events")
        self.offset, self.partial, self.records = 0, b"", {}
        self.daemon = self.proc = None

    def start(self):
        from daemon import Daemon, python_env, wait_until
        open(self.events, "w").close()
        if self.name == "prefork":
            self.daemon = Daemon("--interface", "asgi", "--ws-max-size", str(WS_MAX), "--ws-ping-interval", "0",
                                 *(["--root-path", self.root_path] if self.root_path else []),
                                 app="fuzz_asgi_uvicorn:app", workers=1, env={"FUZZ_ASGI_EVENTS": self.events})
            self.port = self.daemon.port
            self.daemon.wait_ready(timeout=20)
        else:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            self.log = open(os.path.join(self.dir, "stderr"), "wb")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "fuzz_asgi_uvicorn:app", "--fd", str(sock.fileno()), "--http",
                 "httptools", "--ws", self.ws, "--lifespan", "on", "--no-access-log", "--log-level", "warning",
                 "--ws-max-size", str(WS_MAX), "--ws-ping-interval", "600", "--no-server-header",
                 *(["--root-path", self.root_path] if self.root_path else [])],
                pass_fds=(sock.fileno(),), env=python_env(FUZZ_ASGI_EVENTS=self.events), cwd=HERE,
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
            sock.close()
            wait_until(self.answers, 20, what="uvicorn answering")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return sock.recv(100).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def alive(self):
        return (self.proc or self.daemon.proc).poll() is None

    def stop(self):
        from daemon import kill_all
        if self.daemon is not None:
            self.daemon.cleanup()
        if self.proc is not None:
            kill_all(self.proc, ())
            self.log.close()

    def tail(self):
        with open(self.events, "rb") as fh:
            fh.seek(self.offset)
            data = self.partial + fh.read()
        self.offset += len(data) - len(self.partial)
        *lines, self.partial = data.split(b"\n")
        for line in lines:
            event = json.loads(line)
            self.records.setdefault(event.pop("id"), []).append(event)

    async def settle(self, rid, timeout=3.0):
        """The app's records for ``rid`` once every call begun has ended (or the deadline)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self.tail()
            events = self.records.get(rid, [])
            ends = [e for e in events if e["ev"] == "end"]
            if 2 * len(ends) >= len(events) or asyncio.get_running_loop().time() > deadline:
                self.records.pop(rid, None)
                for end in ends:
                    del end["ev"]
                return ends + [{"unfinished": len(events) - 2 * len(ends)}] * (2 * len(ends) < len(events))
            await asyncio.sleep(0.02)


# -- one connection ---------------------------------------------------------------------------
async def converse(port, item, pause=0.05, idle=IDLE):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = bytearray()

    async def read(idle):
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), idle)
            except asyncio.TimeoutError:
                return False
            except OSError:
                return True
            if not chunk:
                return True
            data.extend(chunk)
    closed = False
    for n, step in enumerate(item["steps"]):
        try:
            writer.write(step)
            await writer.drain()
        except OSError:
            break
        if n < len(item["steps"]) - 1 and (closed := await read(pause)):
            break
    if not closed:
        if item["half_close"] and writer.can_write_eof():
            try:
                writer.write_eof()
            except OSError:
                pass
        closed = await read(idle)
    writer.close()
    return bytes(data), closed


def parse_head(data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, data
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None, data
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")
        headers.append([name, "<date>" if name == "date" else value])
    return {"status": int(parts[1]), "reason": parts[2].decode("latin-1") if len(parts) > 2 else "",
            "version": parts[0].decode("latin-1"), "headers": sorted(headers)}, rest


def dechunk(data):
    body, trailers = b"", []
    while True:
        line, sep, rest = data.partition(b"\r\n")
        try:
            size = int(line.split(b";")[0], 16)
        except ValueError:
            return body, None, data
        if not sep or size and len(rest) < size + 2:
            return body + rest[:size], None, b""
        if size == 0:
            while True:
                line, sep, rest = rest.partition(b"\r\n")
                if not line or not sep:
                    return body, trailers, rest
                trailers.append(line.decode("latin-1").lower())
        body += rest[:size]
        data = rest[size + 2:]


def http_answers(data, methods):
    out, n = [], 0
    while data:
        res, data = parse_head(data)
        if res is None:
            out.append({"garbage": data[:300].decode("latin-1")})
            break
        out.append(res)
        if 100 <= res["status"] < 200:
            if res["status"] == 101:
                res["after"] = data[:300].decode("latin-1")
                break
            continue
        fields = dict(res["headers"])
        method = methods[n] if n < len(methods) else b"GET"
        n += 1
        if method == b"HEAD" or res["status"] in (204, 304):
            res["framing"] = "none"
            continue
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body, res["trailers"], data = dechunk(data)
            res["framing"] = "chunked" if res["trailers"] is not None else "chunked, cut"
        elif "content-length" in fields:
            size = int(fields["content-length"])
            body, data = data[:size], data[size:]
            res["framing"] = "length" if len(body) == size else "length, cut"
        else:
            body, data, res["framing"] = data, b"", "close"
        res["body"] = body.decode("latin-1")
    return out


def ws_answers(data):
    res, rest = parse_head(data)
    if res is None or res["status"] != 101:  # an HTTP answer in place of the handshake
        return http_answers(data, [b"GET"])
    data = rest
    frames, inflate = [], zlib.decompressobj(-15)
    while len(data) >= 2:
        first, second = data[0], data[1]
        size, at = second & 0x7F, 2
        if size == 126:
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        at += 4 if second & 0x80 else 0
        payload, data = data[at:at + size], data[at + size:]
        if first & 0x40:
            payload = inflate.decompress(payload + b"\x00\x00\xff\xff")
        opcode = first & 0x0F
        if opcode == 8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            frames.append(["close", code, payload[2:].decode("latin-1")])
        else:
            frames.append([opcode, bool(first & 0x80), payload.decode("latin-1")])
    return [res, {"frames": frames, "rest": data.decode("latin-1")}]


async def outcome(peer, item, slow=False):
    """What the client read, whether the server closed, the app's records; ``slow``: with
    longer pauses and a longer idle deadline (a second look at a difference)."""
    data, closed = await (converse(peer.port, item, 0.2, 1.0) if slow else converse(peer.port, item))
    answers = ws_answers(data) if item["kind"] == "ws" else http_answers(data, item["methods"])
    return {"answers": answers, "closed": closed, "app": await peer.settle(item["id"])}
