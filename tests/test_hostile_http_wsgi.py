"""Hostile peers and a misbehaving WSGI app, through a real daemon (one worker).

Rules under test: an app that raises (before or after start_response), or hands the
server a status or header that cannot go on the wire, gets its client a complete 500
and the next pipelined request is served; a client that uploads a body and goes away
leaves the worker with no socket and no file open. The worker stays the same process.
"""

import socket

import pytest

from daemon import Daemon
from hostile import LAST, open_fds, read_to_close, responses, wait_fds_at_most


@pytest.fixture(scope="module", params=["1", "4"], ids=["threads=1", "threads=4"])
def daemon(request):
    d = Daemon("--keep-alive-timeout", "1", "--threads", request.param, app="apps.hostile_wsgi:app", workers=1)
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
    yield daemon.worker
    assert daemon.workers() == [daemon.worker]
    data = daemon.request("/")
    assert data.startswith(b"HTTP/1.1 200 OK") and b"pid %d" % daemon.worker in data


@pytest.mark.parametrize("path", ["/raise-before-start", "/raise-after-start", "/bad-status", "/crlf-header",
                                  "/crlf-status", "/none"])
def test_an_app_fault_before_the_body_is_a_500_and_the_next_request_is_served(daemon, worker, path):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode() + LAST)
        data = read_to_close(sock)
    finally:
        sock.close()
    assert [status for status, _, _ in responses(data)] == [500, 200], data[:300]
    assert b"X-Injected" not in data
    wait_fds_at_most(daemon.baseline, daemon.worker)


def test_a_fault_inside_the_body_closes_after_what_was_sent(daemon, worker):
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"GET /raise-in-body HTTP/1.1\r\nHost: x\r\n\r\n" + LAST)
        data = read_to_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and responses(data) == []
    wait_fds_at_most(daemon.baseline, daemon.worker)


def _upload_and_leave(daemons, threads):
    d = daemons("--threads", threads, app="apps.hostile_wsgi:app", workers=1)
    d.wait_ready(timeout=30)
    [worker] = d.wait_workers(1, timeout=30)
    baseline = open_fds(worker)
    sock = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    size = 8 * 1024 * 1024
    sock.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    sock.sendall(b"a" * (size // 2))
    sock.close()
    wait_fds_at_most(baseline, worker, timeout=10)
    assert d.workers() == [worker]


def test_a_client_gone_mid_upload_leaves_nothing_open_when_the_body_streams(daemons):
    _upload_and_leave(daemons, "4")


def test_a_client_gone_mid_upload_leaves_nothing_open_when_the_body_is_spooled(daemons):
    _upload_and_leave(daemons, "1")
