"""Uploads that stall (``threads > 1``) hold no thread: a call with a body goes to a
thread once its body is in, or 256 KiB of it, so as many stalled uploads as there are
threads leave a GET on the same worker answered at once, not after ``request_timeout``.
A real daemon (one worker, four threads) driven over raw loopback sockets."""

import hashlib
import socket
import time

import pytest

from harness import read_until_close

LENGTH = 1_000_000
THREADS = 4
REQUEST_TIMEOUT = 2.5  # the stalled uploads' sockets are closed after it


def connect(port, timeout=5):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upload_head(length, expect=False):
    return (b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n%s\r\n"
            % (length, b"Expect: 100-continue\r\n" if expect else b""))


def read_continue(sock):
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n"), data
    return data


def digest_of(data):
    return b"%d %s" % (len(data), hashlib.sha256(data).hexdigest().encode())


@pytest.fixture
def daemon(daemons):
    d = daemons("--interface", "wsgi", "--threads", str(THREADS), "--request-timeout", str(REQUEST_TIMEOUT),
                "--headers-timeout", "2",
                "--connections-checking-interval", "0.1", app="apps.wsgi_apps:digest", workers=1)
    d.wait_ready()
    return d


@pytest.mark.parametrize("how", ["plain", "expect-100"])
def test_stalled_uploads_as_many_as_threads_leave_a_get_answered_at_once(daemon, how):
    """Four uploads send a head and 10 bytes of 1 MB, then nothing: a GET behind them is
    answered in milliseconds (before: once request_timeout had ended the uploads), and an
    upload that goes on later is served whole."""
    stalled = []
    try:
        for _ in range(THREADS):
            sock = connect(daemon.port)
            sock.sendall(upload_head(LENGTH, expect=how == "expect-100"))
            if how == "expect-100":
                read_continue(sock)  # the head has been dispatched: the 100 still goes out at once
            sock.sendall(b"s" * 10)
            stalled.append(sock)
        if how == "plain":
            # a fifth upload, with Expect: its 100 says the worker has read the heads before it
            probe = connect(daemon.port)
            stalled.append(probe)
            probe.sendall(upload_head(LENGTH, expect=True))
            read_continue(probe)
        started = time.monotonic()
        get = connect(daemon.port, timeout=1.0)  # (before the change: no answer for request_timeout)
        try:
            get.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = read_until_close(get)
        except socket.timeout:
            pytest.fail(f"the GET was not answered within 1 s behind {THREADS} stalled uploads")
        finally:
            get.close()
        latency = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(digest_of(b"")), answer
        assert latency < 1.0, latency
        # a stalled upload that goes on is served, its body whole
        first = stalled[0]
        first.sendall(b"s" * (LENGTH - 10))
        first.settimeout(5)
        answer = read_until_close(first)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(digest_of(b"s" * LENGTH)), answer[-200:]
        # the others hold only their sockets, which request_timeout closes
        for sock in stalled[1:]:
            sock.settimeout(REQUEST_TIMEOUT + 2)
            answer = read_until_close(sock)
            assert b"200 OK" not in answer, answer
    finally:
        for sock in stalled:
            sock.close()


def test_a_pipelined_request_behind_an_upload_is_answered_after_it(daemon):
    """The order per connection holds while an upload's call waits for its body: a POST
    whose body comes in two sends, then a GET in the second, answered in that order."""
    sock = connect(daemon.port)
    try:
        body = b"b" * 300_000
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:1000])
        sock.sendall(body[1000:] + b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = read_until_close(sock)
        first = answer.find(digest_of(body))
        second = answer.find(digest_of(b""))
        assert answer.startswith(b"HTTP/1.1 200 OK") and 0 < first < second, answer
    finally:
        sock.close()
