"""Large bodies both ways, on plain and TLS listeners of one real daemon, with peers that
read slowly, never read, reset mid-write, half-close, or open connections and leave them:
the writer is held back (memory bounded), the worker stays up, no descriptor leaks."""

import json
import os
import socket
import ssl

import pytest

from daemon import Daemon, wait_until
from test_hostile_net_tls import client_context, fd_count, pki, reset  # noqa: F401  (pki: a fixture)

MB = 1024 * 1024
CHUNK = 64 * 1024
STATE = {"produced": 0, "waiting": False, "max_buffered": 0, "closed_early": 0, "uploaded": []}


def stream_app(server):
    """``/stream/N``: N MB in 64 KiB writes, each after the last ``drain`` when ``write``
    said to wait; ``/upload``: the size of the request body; ``/state``: what the app saw
    (the most bytes its sockets held in user space at once, counting TLS records)."""
    def buffered(sock):
        tls = sock.tls
        return sock.buffered_size + (len(tls.backlog) if tls is not None else 0)

    def stream(req, res, total):
        sock = req.socket
        sent = [0]

        def more():
            STATE["waiting"] = False
            while sent[0] < total and not sock.destroyed:
                sent[0] += CHUNK
                STATE["produced"] += CHUNK
                ok = res.write(b"x" * CHUNK)
                STATE["max_buffered"] = max(STATE["max_buffered"], buffered(sock))
                if not ok:
                    STATE["waiting"] = True
                    res.once("drain", more)
                    return
            res.end()
        res.on("close", lambda *_: STATE.__setitem__("closed_early", STATE["closed_early"] + (sent[0] < total)))
        res.set_header("Content-Length", str(total))
        more()

    def on_request(req, res):
        if req.url.startswith("/stream/"):
            stream(req, res, int(req.url.rsplit("/", 1)[1]) * MB)
        elif req.url == "/upload":
            size = [0]
            req.on("data", lambda chunk: size.__setitem__(0, size[0] + len(chunk)))
            req.on("end", lambda: (STATE["uploaded"].append(size[0]), res.end(str(size[0]))))
        elif req.url == "/state":
            res.end(json.dumps({**STATE, "pid": os.getpid()}))
        else:
            res.end(f"pid {os.getpid()}")
    server.on("request", on_request)


@pytest.fixture(scope="module")
def daemon(pki):  # noqa: F811
    d = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--bind", "http://127.0.0.1:0",
               "--keep-alive-timeout", "30", app="test_hostile_net_stream:stream_app", workers=1)
    try:
        d.wait_ready()
        import re
        d.wait_log(r"listening at 127\.0\.0\.1:(\d+) \(http://")
        d.plain_port = int(re.search(r"listening at 127\.0\.0\.1:(\d+) \(http://", d.log()).group(1))
        d.worker = d.workers()[0]
        state(d, pki)  # both listeners used once: the worker's descriptors settle
        d.fds = fd_count(d.worker)
        yield d
    finally:
        d.cleanup()


def open_(d, pki, secure, timeout=30):  # noqa: F811
    if not secure:
        sock = socket.create_connection(("127.0.0.1", d.plain_port), timeout=timeout)
        return sock
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    return client_context(pki).wrap_socket(raw, server_hostname="localhost")


def ask(sock, request):
    """Send ``request``; the response (head, body) read until the server closes."""
    sock.sendall(request)
    return read_all(sock)


def read_all(sock):
    """(head, body) of what comes until the server closes (a reset, or TLS cut without
    close_notify, counts as a close)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(MB)
        except (ConnectionResetError, ssl.SSLEOFError):
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def state(d, pki, secure=False):  # noqa: F811
    with open_(d, pki, secure) as sock:
        head, body = ask(sock, b"GET /state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK"), head
    return json.loads(body)


def worker_fine(d, pki):  # noqa: F811
    """The same worker answers on both listeners and is back to its descriptors."""
    for secure in (False, True):
        assert state(d, pki, secure)["pid"] == d.worker
    assert d.workers() == [d.worker]
    wait_until(lambda: fd_count(d.worker) <= d.fds, 20, 0.05, f"the worker's descriptors back to {d.fds}")
    log = d.log()
    assert "Traceback" not in log and "Exception in callback" not in log, log[-3000:]


SECURE = pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])
BOUND = 4 * CHUNK  # the high-water mark, one write over it, and TLS's records of it


@SECURE
def test_a_client_that_does_not_read_holds_the_writer_back(daemon, pki, secure):  # noqa: F811
    before = state(daemon, pki)
    total = 32 * MB
    with open_(daemon, pki, secure) as sock:
        sock.sendall(b"GET /stream/32 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        # nothing read: the app soon waits for a drain that only reading brings
        wait_until(lambda: state(daemon, pki)["waiting"], 30, 0.05, "the app waiting for drain")
        held = state(daemon, pki)
        assert held["produced"] - before["produced"] < total  # held back, not written out at once
        received = 0
        while True:
            chunk = sock.recv(MB)
            if not chunk:
                break
            received += len(chunk)
    head_size = received - total
    assert 0 < head_size < 500, received
    after = state(daemon, pki)
    assert after["max_buffered"] <= BOUND, after  # user-space buffering stayed bounded throughout
    assert after["produced"] - before["produced"] == total
    worker_fine(daemon, pki)


@SECURE
@pytest.mark.parametrize("how", ["rst", "close"])
def test_the_client_goes_away_during_a_large_write(daemon, pki, secure, how):  # noqa: F811
    """A reset (or a close with unread data, which the kernel turns into a reset: the
    server's next write fails with EPIPE or ECONNRESET) mid-response."""
    before = state(daemon, pki)
    sock = open_(daemon, pki, secure)
    sock.sendall(b"GET /stream/64 HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 2 * MB:
        got += len(sock.recv(MB))
    if how == "rst":
        reset(sock)
    else:
        sock.close()
    wait_until(lambda: state(daemon, pki)["closed_early"] == before["closed_early"] + 1, 30, 0.05,
               "the response closed before its end")
    assert state(daemon, pki)["produced"] - before["produced"] < 64 * MB
    worker_fine(daemon, pki)


@SECURE
def test_a_large_request_body_sent_in_odd_pieces(daemon, pki, secure):  # noqa: F811
    size = 24 * MB + 17
    with open_(daemon, pki, secure) as sock:
        sock.sendall(f"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
                     .encode())
        left, piece = size, 1
        while left:
            n = min(left, piece)
            sock.sendall(b"y" * n)
            left -= n
            piece = piece * 7 % (3 * MB) + 1  # 1, 8, 57, ... sizes that cut records anywhere
        head, body = read_all(sock)
    assert head.startswith(b"HTTP/1.1 200 OK") and body == str(size).encode(), head
    worker_fine(daemon, pki)


@SECURE
@pytest.mark.parametrize("sent, answer", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK"),  # answered, then closed
    (b"GET / HTTP/1.1\r\nHost: x\r\n", b"HTTP/1.1 400 Bad Request"),  # a head cut short
    (b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", b"HTTP/1.1 400 Bad Request"),
    (b"", b""),  # nothing at all
], ids=["whole", "half-head", "half-body", "nothing"])
def test_half_close_after_each_part_of_a_request(daemon, pki, secure, sent, answer):  # noqa: F811
    with open_(daemon, pki, secure) as sock:
        sock.sendall(sent)
        raw = sock.unwrap() if secure and not sent else sock  # TLS: close_notify, as a half-close
        socket.socket.shutdown(raw, socket.SHUT_WR)  # a FIN; TLS: without close_notify, the session kept
        head, _ = read_all(raw)  # the server closes its side too, within the deadline
        if raw is not sock:
            raw.close()
    assert head.startswith(answer) if answer else head == b"", head
    worker_fine(daemon, pki)


def test_many_connections_opened_and_abandoned(daemon, pki):  # noqa: F811
    socks = []
    for i in range(150):
        port = daemon.port if i % 3 == 0 else daemon.plain_port
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if i % 3 == 1:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # a head, never finished
        elif i % 3 == 2:
            sock.sendall(b"GET /stream/1 HTTP/1.1\r\nHost: x\r\n\r\n")  # a response never read
        socks.append(sock)
    wait_until(lambda: fd_count(daemon.worker) >= daemon.fds + 140, 30, 0.05, "the connections accepted")
    for i, sock in enumerate(socks):
        if i % 2:
            reset(sock)
        else:
            sock.close()
    worker_fine(daemon, pki)
