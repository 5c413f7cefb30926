"""Abnormal endings, one connection each, and the worker's holdings read through the
``/__probe`` route of ``apps.leak_probe``. Every socket is closed before a cycle returns;
every wait is bounded."""

import base64
import json
import os
import socket
import ssl
import threading
import time

LINGER0 = b"\x01\x00\x00\x00\x00\x00\x00\x00"


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER0)
    except OSError:
        pass
    sock.close()


class Target:
    """Where the cycles go: ``port``; ``tls``: a client context; ``proxy``: send a v1
    PROXY header first."""

    def __init__(self, port, tls=None, proxy=False):
        self.port = port
        self.tls = tls
        self.proxy = proxy

    def raw(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.proxy:
            sock.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 80\r\n")
        return sock

    def open(self):
        sock = self.raw()
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_hostname="localhost")
            except BaseException:
                reset(sock)
                raise
        return sock

    def probe(self):
        sock = self.open()
        try:
            sock.sendall(b"GET /__probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ssl.SSLError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            sock.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data[:300]
        if b"chunked" in head.lower():
            body = _dechunk(body)
        return json.loads(body)


def _dechunk(body):
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def _read_some(sock, needle, limit=1 << 16):
    data = b""
    deadline = time.monotonic() + 10
    while needle not in data and time.monotonic() < deadline and len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except (ssl.SSLError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _ws_head(path="/ws"):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


# -- the endings: each takes a Target, makes one connection and ends it badly -----------------

def mid_head(t):
    sock = t.open()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: ")
    time.sleep(0.002)
    reset(sock)


def mid_body(t):
    sock = t.open()
    sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"b" * 5000)
    time.sleep(0.002)
    reset(sock)


def mid_chunked_body(t):
    sock = t.open()
    sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + b"b" * 100)
    time.sleep(0.002)
    reset(sock)


def mid_response(t):
    sock = t.open()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    _read_some(sock, b"\r\n\r\n")
    reset(sock)


def while_awaiting(t):
    sock = t.open()
    sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.01)
    reset(sock)


def half_close_vanish(t):
    sock = t.open()
    sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
    if isinstance(sock, ssl.SSLSocket):
        raw = sock.unwrap() if False else sock
        raw.shutdown(socket.SHUT_WR)
    else:
        sock.shutdown(socket.SHUT_WR)
    time.sleep(0.005)
    reset(sock)


def half_close_mid_head(t):
    sock = t.open()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    sock.shutdown(socket.SHUT_WR)
    time.sleep(0.002)
    sock.close()


def expect_abort(t):
    sock = t.open()
    sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
    _read_some(sock, b"\r\n\r\n")
    reset(sock)


def upgrade_reset(t):
    sock = t.open()
    sock.sendall(b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
    _read_some(sock, b"hello")
    reset(sock)


def connect_reset(t):
    sock = t.open()
    sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nhello")
    _read_some(sock, b"hello")
    reset(sock)


def ws_handshake_reset(t):
    sock = t.open()
    sock.sendall(_ws_head())
    time.sleep(0.002)
    reset(sock)


def ws_mid_frame(t):
    sock = t.open()
    sock.sendall(_ws_head())
    _read_some(sock, b"\r\n\r\n")
    # a masked binary frame of 1000 bytes, cut after 10 of them
    sock.sendall(b"\x82\xfe\x03\xe8" + b"\x01\x02\x03\x04" + b"z" * 10)
    time.sleep(0.002)
    reset(sock)


def ws_echo_then_reset(t):
    sock = t.open()
    sock.sendall(_ws_head())
    _read_some(sock, b"\r\n\r\n")
    sock.sendall(b"\x81\x85\x00\x00\x00\x00hello")
    _read_some(sock, b"hello")
    reset(sock)


def upstream(t):
    sock = t.open()
    sock.sendall(b"GET /upstream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _read_some(sock, b"\r\n\r\n")
    sock.close()


def upstream_reset_midway(t):
    sock = t.open()
    sock.sendall(b"GET /upstream HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.003)
    reset(sock)


def tls_handshake_reset(t):
    sock = t.raw()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = t.tls.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(outgoing.read())
    _read_some(sock, b"\x16\x03", limit=1)
    reset(sock)


def tls_hello_cut(t):
    sock = t.raw()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = t.tls.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(outgoing.read()[:40])
    time.sleep(0.002)
    reset(sock)


def proxy_cut(t):
    sock = socket.create_connection(("127.0.0.1", t.port), timeout=10)
    sock.sendall(b"PROXY TCP4 203.0.113.7 127.")
    time.sleep(0.002)
    reset(sock)


def slowloris(t, count=20, timeout=10):
    """``count`` connections dribbling a head until the server closes them all."""
    socks = [t.open() for _ in range(count)]
    for sock in socks:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(0.05)
    open_ = list(socks)
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for sock in list(open_):
            try:
                sock.sendall(b"X-S: 1\r\n")
                if sock.recv(4096) == b"":
                    open_.remove(sock)
            except (socket.timeout, ssl.SSLWantReadError):
                pass
            except OSError:
                open_.remove(sock)
        time.sleep(0.1)
    for sock in socks:
        sock.close()
    assert not open_, f"{len(open_)} slow connections still open at the deadline"


class ResettingUpstream:
    """A listener that answers each connection with a reset (after reading what came),
    or, every ``answer_every``-th, with a whole response that closes the connection (said
    in its head: a client's agent does not pool a socket the upstream is closing, which a
    next request on it would find reset). Runs in a thread."""

    def __init__(self, answer_every=0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answer_every = answer_every
        self.count = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            conn.settimeout(2)
            try:
                conn.recv(65536)
                if self.answer_every and self.count % self.answer_every == 0:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nup")
                    conn.close()
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
                    reset(conn)
            except OSError:
                conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def settle(target, baseline, timeout=15):
    """Probe until the worker holds no more descriptors, tasks, timers or prefork objects
    than ``baseline`` (a probe) did, or the deadline passes; the last probe."""
    deadline = time.monotonic() + timeout
    cyclic = {}
    while True:
        got = target.probe()
        for name, count in got["cyclic"].items():  # (each probe collects: what all of them found)
            cyclic[name] = cyclic.get(name, 0) + count
        if not _more(baseline, got) or time.monotonic() > deadline:
            got["cyclic"] = cyclic
            return got
        time.sleep(0.1)


def _more(a, b):
    return (any(b[k] > a[k] for k in ("fds", "tasks", "timers"))
            or any(v > a["prefork"].get(k, 0) for k, v in b["prefork"].items() if k not in CACHED))


CACHED = {"prefork.http.serialize.HeaderBlock"}  # (the adapters' cache of header blocks)


def growth(a, b):
    """What grew from probe ``a`` to probe ``b``."""
    out = {}
    for key in ("fds", "tasks", "timers", "readers"):
        if b[key] != a[key]:
            out[key] = (a[key], b[key])
    for name in set(a["prefork"]) | set(b["prefork"]):
        if b["prefork"].get(name, 0) > a["prefork"].get(name, 0):
            out[name] = (a["prefork"].get(name, 0), b["prefork"].get(name, 0))
    if b["cyclic"]:
        out["cyclic"] = b["cyclic"]
    out["objects"] = b["objects"] - a["objects"]
    out["rss_kib"] = b["rss_kib"] - a["rss_kib"]
    return out


def ws_silent(t, timeout=10):
    """A WebSocket client that answers nothing (no pong) until the server closes it."""
    sock = t.open()
    try:
        sock.sendall(_ws_head())
        _read_some(sock, b"\r\n\r\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return
        raise AssertionError("the server never closed a silent WebSocket")
    finally:
        sock.close()
