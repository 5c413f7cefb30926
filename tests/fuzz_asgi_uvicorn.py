"""Differential fuzz of the ASGI interface: prefork against uvicorn (httptools for HTTP,
wsproto or websockets for WebSockets), one worker each, serving the app of
tests/apps/fuzz_asgi.py. This module is the driver: the two servers (``Peer``), one
connection (``converse``), the parsing of what the client read, and ``outcome``.

The app appends one JSON line per HTTP request and WebSocket to the file named by
``FUZZ_ASGI_EVENTS`` (its scope, the messages it received, what its sends raised). The
generator (``inputs``, tests/fuzz_asgi_uvicorn_inputs.py) writes the request streams real
and hostile clients send; the driver sends each to both servers over loopback (the same
reads with the same pauses, a half-close or not), reads until the server closes or is
quiet for ``IDLE`` seconds, and compares per input: each response parsed (status,
reason, headers with Date's value masked and the framing kept apart, body), whether
the connection closed, the server's WebSocket frames, and the app's event lines.

What legitimately differs is removed by the rules of ``KNOWN`` in
tests/test_fuzz_asgi_uvicorn.py (tests/fuzz_asgi_uvicorn_known.py for HTTP,
tests/fuzz_asgi_uvicorn_known_ws.py for WebSockets; each narrow, each with its reason);
anything else is a finding. An input that differs is run again with longer pauses before
it counts. CI runs a seeded batch (tests/test_fuzz_asgi_uvicorn.py); a long campaign:

    python tests/test_fuzz_asgi_uvicorn.py --inputs 5000 --seed 1 [--ws websockets]
"""

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import zlib

from fuzz_asgi_uvicorn_inputs import WS_MAX

HERE = os.path.dirname(os.path.abspath(__file__))
IDLE = 0.3  # seconds of quiet that end a connection's reading


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
                                 app="apps.fuzz_asgi:app", workers=1, env={"FUZZ_ASGI_EVENTS": self.events})
            self.port = self.daemon.port
            self.daemon.wait_ready(timeout=20)
        else:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            self.log = open(os.path.join(self.dir, "stderr"), "wb")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "apps.fuzz_asgi:app", "--fd", str(sock.fileno()), "--http",
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
