"""A WSGI or ASGI body cached in memory and answered whole (a one-item list, one body
message) is not joined to its head per response: slow readers holding it cost the worker
a head each, not a copy of the body each (the events API's ``res.end(BIG)`` does the same),
and a full reader still gets every byte. (WSGI bounds the answers it holds unsent and then
waits for slow readers, as gunicorn's workers do: its readers here read whole.)"""

import http.client

import pytest

from apps.shared_body import BIG
from daemon import Daemon
from hostile import rss
from test_events_shared_body import slow_readers

MB = 1024 * 1024
SLOW_CLIENTS = 20
INTERFACES = {
    "wsgi": ("apps.shared_body:wsgi", "--interface", "wsgi"),
    "wsgi-threads": ("apps.shared_body:wsgi", "--interface", "wsgi", "--threads", "4"),
    "asgi": ("apps.shared_body:asgi", "--interface", "asgi", "--lifespan", "off"),
}


@pytest.fixture(scope="module", params=sorted(INTERFACES))
def daemon(request):
    app, *args = INTERFACES[request.param]
    d = Daemon(*args, app=app, workers=1)
    try:
        d.wait_ready(timeout=30)
        d.worker = d.workers()[0]
        yield d
    finally:
        d.cleanup()


@pytest.mark.parametrize("daemon", ["asgi"], indirect=True)  # (WSGI holds 16 MiB unsent at most, then waits)
def test_slow_readers_of_one_cached_body_do_not_each_hold_a_copy_of_it(daemon):
    assert daemon.request("/ping").endswith(b"pong")
    before = rss(daemon.worker)
    socks = []
    try:
        slow_readers(daemon.port, "/big", socks, SLOW_CLIENTS)
        assert daemon.request("/ping").endswith(b"pong")  # answered after all twenty were handed over
        grown = rss(daemon.worker) - before
        # a copy each would be 20 x 8 MiB = 160 MiB
        assert grown < 40 * MB, f"worker RSS grew by {grown / MB:.0f} MiB for {SLOW_CLIENTS} readers"
    finally:
        for sock in socks:
            sock.close()


def test_a_cached_body_reaches_a_full_reader_whole(daemon):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        for path in ("/big", "/ping", "/big"):  # one keep-alive connection
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") == str(len(BIG) if path == "/big" else 4)
            assert response.read() == (BIG if path == "/big" else b"pong"), path
    finally:
        conn.close()
