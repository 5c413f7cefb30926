"""An events setup whose one parameter happens to be named ``scope`` is taken for an
ASGI 2 ``app(scope)`` by auto-detection (as uvicorn's asgi2); ``--interface events``
says outright what it is, and the worker serves it as a setup(server). Real daemon,
real requests."""

import signal
import textwrap

APP = """
def setup(scope):
    scope.on("request", lambda req, res: res.end("setup got the server"))
"""


def test_interface_events_serves_a_setup_whose_parameter_is_named_scope(daemons, tmp_path):
    (tmp_path / "scoped.py").write_text(textwrap.dedent(APP))
    d = daemons("--app-dir", str(tmp_path), "--interface", "events", app="scoped:setup", workers=1)
    d.wait_ready()
    reply = d.request()
    assert reply.startswith(b"HTTP/1.1 200 OK"), reply
    assert reply.endswith(b"setup got the server")
    d.signal(signal.SIGTERM)
    assert d.wait_exit(30) == 0
