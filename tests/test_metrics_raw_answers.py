"""Answers written raw on a socket the server handed over count in the metrics, as the
access log shows them: an ASGI WebSocket handshake's answer (101, the 403 of a close
before the accept, a denial's own status, the 500 of an app that failed first, the
400 of a bad handshake) and the 400 the ASGI and WSGI adapters give a CONNECT or an
upgrade that is no handshake are responses to parsed requests, so each is in
``prefork_requests_total`` by code and method; the adapters' 400s are in the duration
histogram too, a handshake's answer is not (it is seen at the session's close: its
length is no response time).
A real daemon, its /metrics read until the workers' heartbeats carry the counts, with
the access log off and on (the two ways a worker counts)."""

import socket

import pytest

pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

from daemon import Daemon, wait_until  # noqa: E402
from hostile import exchange  # noqa: E402

HISTOGRAM_COUNT = ("prefork_request_duration_seconds_count", ())


def requests(samples):
    """{(code, method): count} of prefork_requests_total."""
    return {(dict(labels)["code"], dict(labels)["method"]): value for (name, labels), value in samples.items()
            if name == "prefork_requests_total"}


def wait_counts(daemon, expected, histogram):
    """The scrape once ``prefork_requests_total`` holds ``expected`` and the histogram
    ``histogram`` responses (a heartbeat, about a second, brings a worker's counts)."""
    last = {}

    def seen():
        last["samples"] = samples = daemon.scrape()
        return samples if requests(samples) == expected and samples[HISTOGRAM_COUNT] == histogram else None
    return wait_until(seen, 10, what=lambda: f"{expected} and {histogram} in the histogram; last scrape: "
                      f"{requests(last['samples'])}, histogram {last['samples'][HISTOGRAM_COUNT]}")


def plain_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.parametrize("access_log", ["", "access.log"])
def test_websocket_answers_and_refusals_are_counted_asgi(tmp_path, access_log):
    d = Daemon("--interface", "asgi", "--access-log", access_log and str(tmp_path / access_log),
               app="apps.asgi_apps:app", workers=2, access_log=None)
    try:
        d.wait_ready(timeout=30)
        with connect(f"ws://127.0.0.1:{d.port}/ws/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
        for path, status in (("/ws/reject", 403), ("/ws/deny", 403), ("/ws/raise", 500)):
            with pytest.raises(InvalidStatus) as caught:
                connect(f"ws://127.0.0.1:{d.port}{path}", open_timeout=5)
            assert caught.value.response.status_code == status
        assert exchange(d.port, b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                                b"Sec-WebSocket-Key: not-base64-of-16\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                        ).startswith(b"HTTP/1.1 400 ")
        assert exchange(d.port, b"POST /ws/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                b"Upgrade: websocket\r\nContent-Length: 0\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert plain_get(d.port, "/echo").startswith(b"HTTP/1.1 200 ")
        expected = {("101", "GET"): 1, ("403", "GET"): 2, ("500", "GET"): 1, ("400", "GET"): 1,
                    ("400", "CONNECT"): 1, ("400", "POST"): 1, ("200", "GET"): 1}
        # timed: the adapter's two 400s (CONNECT, the POST upgrade) and the plain GET
        samples = wait_counts(d, expected, histogram=3)
        assert samples[("prefork_connections_active", ())] == 0
    finally:
        d.cleanup()


def test_a_connect_refused_by_the_wsgi_adapter_is_counted():
    d = Daemon("--interface", "wsgi", app="apps.wsgi_apps:hello", workers=2)
    try:
        d.wait_ready(timeout=30)
        assert exchange(d.port, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
                        ).startswith(b"HTTP/1.1 400 ")
        assert plain_get(d.port, "/").startswith(b"HTTP/1.1 200 ")
        wait_counts(d, {("400", "CONNECT"): 1, ("200", "GET"): 1}, histogram=2)
    finally:
        d.cleanup()
