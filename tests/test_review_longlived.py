"""Long-lived connections as an operator watches them: a WebSocket (or a tunnel) counts
in ``prefork_connections_active`` and in the status page's connections; before, only
connections still speaking HTTP did, so a drain held up by WebSockets showed none."""

import pytest

from daemon import wait_until

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402


def _active(d):
    return d.scrape().get(("prefork_connections_active", ()))


def test_open_websockets_count_as_active_connections(daemons):
    d = daemons("--interface", "asgi", app="apps.asgi_apps:app", workers=1)
    d.wait_ready()
    with connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as one, \
            connect(f"ws://127.0.0.1:{d.port}/ws", proxy=None) as two:
        one.send("hello")
        assert one.recv(timeout=5) == "hello"
        two.send("hello")
        assert two.recv(timeout=5) == "hello"
        wait_until(lambda: _active(d) == 2, 10, what="two WebSockets in prefork_connections_active")
    wait_until(lambda: _active(d) == 0, 10, what="none once they closed")
