"""Clients that misbehave at the transport level on plain listeners: a response answered
before its upload was read, a reset in the middle of a response, half-close after a
whole request (compared with Node), IPv6 loopback, a UNIX socket whose client leaves
early. In-process servers where the socket's own rule is checked, the real daemon where
the worker must stay up without leaking descriptors."""

import json
import re
import socket
import struct
import threading

import pytest

from apps.journey_net import pattern
from daemon import Daemon, wait_until
from harness import NODE, RefServer
from test_hostile_net_tls import fd_count, pki  # noqa: F401  (pki: a fixture)

MB = 1024 * 1024
CHUNK = 64 * 1024


# -- answering before the upload is read: the orderly close ---------------------------------------------
def early_answer(linger):
    """``/early``: answered at once with ``Connection: close``, its body never read; the
    sockets linger at most ``linger`` seconds."""
    def setup(server, st):
        def on_request(req, res):
            res.set_header("Connection", "close")
            res.end(b"answered before the upload")
        server.on("request", on_request)

        def on_connection(sock):
            sock.linger_timeout = linger
            sock.on("close", lambda _=False: st.record("closed"))
        server.on("connection", on_connection)
    return setup


def test_an_answer_sent_before_the_upload_was_read_reaches_the_client(serve):
    """The client is still uploading when the server answers and closes: the server reads
    and drops the rest of the upload until the client's FIN, so closing never resets the
    connection and the client reads the answer."""
    st = serve(early_answer(5.0))  # the default bound: an 8 MB upload ends well within it, even on a busy machine
    with socket.create_connection(("127.0.0.1", st.port), timeout=30) as sock:
        body = b"u" * (8 * MB)
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        sent = 0
        try:
            while sent < len(body):  # the server answers meanwhile; the upload goes on
                sent += sock.send(body[sent:sent + 256 * 1024])
        except (BrokenPipeError, ConnectionResetError) as exc:
            pytest.fail(f"the connection was reset after {sent} bytes of the upload: {exc!r}")
        sock.shutdown(socket.SHUT_WR)
        data = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"answered before the upload"), data[:300]
    st.wait_for(lambda e: e == ("closed",), 30)


def test_the_close_lingers_while_the_request_body_is_still_coming_even_with_nothing_unread(serve):
    """The server has read every byte sent so far when it answers and closes; the body
    is not all there, so the client is still sending: the close lingers for its FIN
    (no reset) instead of closing because nothing waits unread at that moment."""
    st = serve(early_answer(5.0))
    with socket.create_connection(("127.0.0.1", st.port), timeout=30) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"u" * 1000)
        answer = read_all(sock)  # to the server's FIN: it has answered and ended its side
        assert answer.endswith(b"answered before the upload"), answer
        sock.sendall(b"u" * 65536)  # the rest of the upload: a closed socket would answer with a reset
        sock.shutdown(socket.SHUT_WR)
        st.wait_for(lambda e: e == ("closed",), 30)
        assert sock.recv(65536) == b""  # the end of the stream, not ECONNRESET


def test_a_client_that_keeps_sending_after_the_answer_is_closed_at_the_linger_bound(serve):
    """The linger is bounded: a client that keeps sending and never ends its side is
    closed after ``linger_timeout``."""
    st = serve(early_answer(1.0))
    sock = socket.create_connection(("127.0.0.1", st.port), timeout=30)
    stop = threading.Event()
    try:
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer

        def feed():
            try:
                while not stop.is_set():
                    sock.sendall(b"u" * 4096)
                    stop.wait(0.01)
            except OSError:
                pass
        feeder = threading.Thread(target=feed)
        feeder.start()
        st.wait_for(lambda e: e == ("closed",), 30)
    finally:
        stop.set()
        sock.close()


def read_all(sock):
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(MB)
        except ConnectionResetError:
            return bytes(data) + b"<reset>"
        if not chunk:
            return bytes(data)
        data += chunk


# -- the real daemon on TCP, IPv6 and a UNIX path --------------------------------------------------------
@pytest.fixture(scope="module")
def plain_daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journey-tcp")
    d = Daemon("--bind", "http://[::1]:0", "--bind", f"unix:{tmp}/plain.sock", "--keep-alive-timeout", "30",
               app="apps.journey_net:setup", workers=1)
    try:
        d.wait_ready()
        d.wait_log(r"listening at \[::1\]:(\d+)")
        d.v6_port = int(re.search(r"listening at \[::1\]:(\d+)", d.log()).group(1))
        d.unix_path = f"{tmp}/plain.sock"
        d.worker = d.workers()[0]
        ask(d, "tcp", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        d.fds = fd_count(d.worker)
        yield d
    finally:
        d.cleanup()


def open_(d, where, timeout=30):
    if where == "tcp":
        return socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    if where == "ipv6":
        return socket.create_connection(("::1", d.v6_port), timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(d.unix_path)
    return sock


def ask(d, where, request):
    with open_(d, where) as sock:
        sock.sendall(request)
        return read_all(sock)


def worker_fine(d):
    for where in ("tcp", "ipv6", "unix"):
        data = ask(d, where, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert json.loads(data.partition(b"\r\n\r\n")[2])["pid"] == d.worker
    assert d.workers() == [d.worker]
    wait_until(lambda: fd_count(d.worker) <= d.fds, 30, 0.05, f"the worker's descriptors back to {d.fds}")
    log = d.log()
    assert "Traceback" not in log and "Exception in callback" not in log, log[-3000:]


WHERE = pytest.mark.parametrize("where", ["tcp", "ipv6", "unix"])


@WHERE
def test_every_listener_family_serves(plain_daemon, where):
    data = ask(plain_daemon, where, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    seen = json.loads(data.partition(b"\r\n\r\n")[2])
    assert seen["family"] == {"tcp": "IPv4", "ipv6": "IPv6", "unix": None}[where]


@WHERE
@pytest.mark.parametrize("when", ["before-the-answer", "mid-answer"])
def test_a_client_that_leaves_early(plain_daemon, where, when):
    """The client asks for 16 MB and leaves (a reset on TCP, a close on UNIX) before the
    answer or after its first bytes: the worker goes on, its descriptors come back."""
    for _ in range(5):
        sock = open_(plain_daemon, where)
        sock.sendall(b"GET /big/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (16 * MB))
        if when == "mid-answer":
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        if where != "unix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        sock.close()
    worker_fine(plain_daemon)


@WHERE
def test_a_large_download_is_whole(plain_daemon, where):
    size = 24 * MB
    data = ask(plain_daemon, where, b"GET /big/%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == pattern(size)


# -- half-close after whole requests, as Node answers it -----------------------------------------------
HALF_CLOSE_REQUESTS = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"


def half_closed_exchange(address, family=socket.AF_INET):
    """Two pipelined requests then SHUT_WR: what comes back until the server closes."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(address)
        sock.sendall(HALF_CLOSE_REQUESTS)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def connection_headers(data):
    return re.findall(rb"\r\nConnection: ([^\r]*)", data)


def test_half_close_after_whole_requests_is_answered_then_closed_like_node(plain_daemon):
    """Node answers every whole request it read before the client's FIN, then closes;
    so does prefork, on each listener family."""
    if NODE is None:
        pytest.skip("node is not installed")
    node = RefServer("node")
    try:
        reference = half_closed_exchange(("127.0.0.1", node.port))
    finally:
        node.stop()
    assert reference.count(b"HTTP/1.1 200 OK") == 2 and not reference.endswith(b"<reset>"), reference
    for where, address, family in (("tcp", ("127.0.0.1", plain_daemon.port), socket.AF_INET),
                                   ("ipv6", ("::1", plain_daemon.v6_port), socket.AF_INET6),
                                   ("unix", plain_daemon.unix_path, socket.AF_UNIX)):
        ours = half_closed_exchange(address, family)
        assert ours.count(b"HTTP/1.1 200 OK") == 2 and not ours.endswith(b"<reset>"), (where, ours)
        assert connection_headers(ours) == connection_headers(reference), (where, ours, reference)
    worker_fine(plain_daemon)



# -- a client that stops reading: the send timeout -------------------------------------------------------
def big_answer(server, st):
    """Every request gets 8 MB, streamed in 64 KiB writes, each after the last ``drain``
    when ``write`` said to wait (the response is not finished while the client does not
    read); sockets give up a write that makes no progress for 0.5 s."""
    def on_request(req, res):
        left = [8 * MB // CHUNK]

        def more():
            while left[0] and not req.socket.destroyed:
                left[0] -= 1
                if not left[0]:
                    res.end(b"x" * CHUNK)
                    return
                if not res.write(b"x" * CHUNK):
                    res.once("drain", more)
                    return
        more()
    server.on("request", on_request)

    def on_connection(sock):
        sock.send_timeout = 0.5
        sock.on("close", lambda _=False: st.record("closed"))
    server.on("connection", on_connection)


def small_window_client(port, pki, secure):
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(30)
    raw.connect(("127.0.0.1", port))
    if not secure:
        return raw
    from test_hostile_net_tls import client_context
    return client_context(pki).wrap_socket(raw, server_hostname="localhost")


SECURE = pytest.mark.parametrize("secure", [False, True], ids=["plain", "tls"])


@SECURE
def test_a_client_that_never_reads_is_dropped_at_the_send_timeout(serve, pki, secure):  # noqa: F811
    """nginx's send_timeout: a response the client stops taking is not held (with its
    buffers) for ever; the socket is closed once a write has made no progress for
    ``send_timeout`` seconds."""
    from test_hostile_net_tls import tls_listener
    st = serve(big_answer)
    port = tls_listener(st, pki) if secure else st.port
    with small_window_client(port, pki, secure) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st.wait_for(lambda e: e == ("closed",), 30)  # and the client never read a byte
    # (without the send timeout nothing bounds it: the response is still being written,
    # so neither the keep-alive timer nor a request timeout applies, and server.timeout
    # is off by default, as in Node)


@SECURE
def test_a_slow_reader_that_keeps_reading_is_not_dropped(serve, pki, secure):  # noqa: F811
    """The send timeout is about progress, not speed: a reader that takes a little at a
    time, with pauses longer than the send timeout between bursts of the server's writes,
    gets the whole answer."""
    from test_hostile_net_tls import tls_listener
    st = serve(big_answer)
    port = tls_listener(st, pki) if secure else st.port
    total, tail = 0, b""
    with small_window_client(port, pki, secure) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        pause = threading.Event()
        while True:
            chunk = sock.recv(64 * 1024)
            if not chunk:
                break
            total, tail = total + len(chunk), (tail + chunk)[-5:]
            pause.wait(0.002)  # about 3 MB/s at most
    assert total > 8 * MB and tail == b"0\r\n\r\n", (total, tail)  # the last chunk came
