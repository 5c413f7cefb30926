"""Hostile peers against a real daemon (one worker, short timeouts).

Rules under test, on the worker's own process: whatever a peer sends (malformed or
foreign protocols, slow heads and bodies, resets at any point, floods it never reads,
bodies nobody reads) the worker stays the same process, answers the next request, gets
back to its open-fd count, and holds a bounded amount of memory. Memory is the worker's
VmRSS sampled while the peer pushes; fds are counted in /proc/<worker>/fd.
"""

import re
import socket
import struct
import time

import pytest

from daemon import Daemon
from hostile import open_fds, read_to_close, responses, rss, wait_fds_at_most

MB = 1024 * 1024
DATE = re.compile(rb"Date: [^\r]*")
GROWTH_LIMIT = 48 * MB  # what a worker may add while a peer pushes hundreds of MB at it


@pytest.fixture(scope="module")
def daemon():
    d = Daemon("--headers-timeout", "1", "--request-timeout", "3", "--keep-alive-timeout", "1",
               "--connections-checking-interval", "0.1", app="apps.hostile_app:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        [worker] = d.wait_workers(1, timeout=30)
        d.worker = worker
        d.baseline = open_fds(worker)
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def worker(daemon):
    """The worker's pid; after the test: same worker, fds back, and it answers."""
    yield daemon.worker
    wait_fds_at_most(daemon.baseline, daemon.worker)
    assert daemon.workers() == [daemon.worker]
    data = daemon.request("/")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"pid %d" % daemon.worker in data


def connect(daemon):
    return socket.create_connection(("127.0.0.1", daemon.port), timeout=10)


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def push(sock, limit, pid, chunk=b"a" * (256 * 1024), stall=1.0, seconds=20):
    """Send ``chunk`` over and over until ``limit`` bytes are out or the peer stops taking
    them for ``stall`` seconds; returns (bytes sent, peak growth of ``pid``'s RSS)."""
    sock.setblocking(False)
    start = rss(pid)
    peak = 0
    sent = 0
    last_progress = time.monotonic()
    deadline = time.monotonic() + seconds
    while sent < limit and time.monotonic() < deadline:
        try:
            sent += sock.send(chunk[:limit - sent])
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > stall:
                break
            time.sleep(0.005)
        except (BrokenPipeError, ConnectionResetError):
            break
        peak = max(peak, rss(pid) - start)
    sock.setblocking(True)
    return sent, peak


HOSTILE = {
    "http2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "tls client hello": bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00",
    "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    "CL and TE": b"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "conflicting CL": b"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "negative CL": b"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "TE chunked, identity": b"POST /never HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE xchunked": b"POST /never HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "TE obs-fold": b"POST /never HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "chunk size overflow": b"POST /never HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 40 + b"\r\n",
    "NUL in a name": b"GET / HTTP/1.1\r\nHost: x\r\nX\x00A: 1\r\n\r\n",
    "NUL in a value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "NUL in the target": b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "head over the limit": b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 20000 + b"\r\n\r\n",
    "request line over the limit": b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_bytes_get_a_4xx_and_a_close(daemon, worker, name):
    """(A body is sent to a listener that does not answer, so the parser's verdict on the
    body is what the peer sees, as with Node: a head llhttp accepts reaches the app.)"""
    sock = connect(daemon)
    try:
        sock.sendall(HOSTILE[name])
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), data[:200]
    assert data.endswith(b"\r\nConnection: close\r\n\r\n")


@pytest.mark.parametrize("what, payload", [
    ("mid-head", b"GET / HTTP/1.1\r\nHo"),
    ("mid-body", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc"),
    ("mid-response", b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("mid-pipeline", b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * 300),
])
def test_a_reset_at_any_point_leaves_no_socket(daemon, worker, what, payload):
    sock = connect(daemon)
    sock.sendall(payload)
    reset(sock)


@pytest.mark.parametrize("payload, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n", b"400"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", b"200"),  # answered before the body ends
])
def test_a_fin_after_a_partial_request_is_answered_and_closed(daemon, worker, payload, status):
    sock = connect(daemon)
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 " + status), data


def test_a_slow_head_gets_408_at_the_headers_timeout(daemon, worker):
    sock = connect(daemon)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        data = b""
        for byte in b"Host: x\r\nX-Slow: 1234567890":
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)  # pacing the peer, not waiting for an outcome
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
    assert time.monotonic() - started >= 1.0


def test_a_slow_body_of_an_unanswered_request_gets_408_at_the_request_timeout(daemon, worker):
    sock = connect(daemon)
    try:
        sock.sendall(b"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        started = time.monotonic()
        for _ in range(200):
            try:
                sock.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.05)  # pacing the peer
            if time.monotonic() - started > 3.5:
                break
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"


def test_an_unread_body_of_an_unanswered_request_stops_the_reading(daemon, worker):
    sock = connect(daemon)
    try:
        sock.sendall(b"POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (1024 * MB))
        sent, growth = push(sock, 512 * MB, daemon.worker)
        assert sent < 64 * MB, f"the worker kept reading a body nobody reads ({sent} bytes)"
        assert growth < GROWTH_LIMIT
        # another client is served meanwhile
        assert daemon.request("/").startswith(b"HTTP/1.1 200 OK")
    finally:
        reset(sock)


def test_an_unread_body_of_an_answered_request_is_discarded_as_it_comes(daemon, worker):
    size = 256 * MB
    sock = connect(daemon)
    try:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        sent, growth = push(sock, size, daemon.worker, stall=5.0, seconds=60)
        assert sent == size
        assert growth < GROWTH_LIMIT, f"the worker grew by {growth // MB} MB holding a discarded body"
        sock.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = responses(read_to_close(sock, 30))
    finally:
        sock.close()
    assert [status for status, _, _ in got] == [200, 200]


def test_a_pipelined_flood_from_a_peer_that_never_reads_is_bounded(daemon, worker):
    request = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
    sock = connect(daemon)
    try:
        sent, growth = push(sock, 256 * MB, daemon.worker, chunk=request * 1000)
        assert sent < 64 * MB, "the worker never stopped reading requests it cannot answer"
        assert growth < GROWTH_LIMIT, f"the worker grew by {growth // MB} MB"
        assert daemon.request("/").startswith(b"HTTP/1.1 200 OK")
    finally:
        reset(sock)


def test_a_connection_that_never_sends_a_byte_gets_408_at_the_headers_timeout(daemon, worker):
    sock = connect(daemon)
    try:
        started = time.monotonic()
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data == b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
    assert time.monotonic() - started >= 1.0


def test_a_pipeline_sent_byte_by_byte_is_answered_as_sent_whole(daemon, worker):
    pipeline = (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
                b"GET /y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"
                b"HEAD /z HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    def send(pieces):
        sock = connect(daemon)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for piece in pieces:
                sock.sendall(piece)
            return DATE.sub(b"Date: -", read_to_close(sock))
        finally:
            sock.close()
    whole = send([pipeline])
    assert whole.count(b"HTTP/1.1 200 OK\r\n") == 5 and b"x" * 65536 in whole
    assert send([pipeline[i:i + 1] for i in range(len(pipeline))]) == whole
