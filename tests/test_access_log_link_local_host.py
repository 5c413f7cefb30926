"""The access log's ``{h}`` gives a link-local peer without its zone (``fe80::1``), as
gunicorn, uvicorn and nginx log it (``getpeername()``'s host, ``$remote_addr``); it
used to write the socket's Node spelling, ``fe80::1%eth0``. Every way a line is made:
the plain line, the worker's observer (held lines and lines made at once, a format
with a spec)."""

import pytest

from prefork import logs
from daemon import wait_until
from test_net_link_local_zone import exchange_on_link_local


@pytest.mark.parametrize("fmt,flush,way", [("{h} {s}", 0.0, "line"), ("{h} {s}", 0.0, "observer"),
                                           ("{h} {s}", 1.0, "observer"), ("{h:>1} {s}", 1.0, "observer")])
def test_a_link_local_peer_is_logged_without_its_zone(tmp_path, fmt, flush, way):
    path = tmp_path / "access.log"
    access = logs.AccessLog(str(path), fmt, flush)
    seen = []

    def observer(loop):
        observe = access.observer(loop) if way == "observer" else (lambda req, res: access.line(req, res, 0.0))

        def both(req, res):
            seen.append(req.socket.remote_address)
            observe(req, res)
        return both

    def setup(server):
        server.on("request", lambda req, res: res.end("ok"))
        server.response_observer = observer(server.loop)
    host, _, _, _ = exchange_on_link_local(setup, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    wait_until(lambda: seen, 5, what="the response observed")
    access.close()
    assert seen[0].startswith("fe80:") and seen[0].endswith("%" + host.partition("%")[2])  # the socket's: Node's
    assert path.read_text() == f"{host.partition('%')[0]} 200\n"
