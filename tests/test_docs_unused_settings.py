"""README: "A setting that does nothing where it is given ... is a warning". max_body_size
is WSGI's alone (--help: "WSGI: larger request bodies get a 413"): given for an ASGI or
events app, where no body is refused for its size, the worker says so at its start, and
the app is served all the same, its large bodies included."""

import socket
import textwrap

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close

APPS = {
    "asgi": ("bodysize_asgi:app", "an ASGI app", """
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            size = 0
            while True:
                message = await receive()
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": str(size).encode()})
    """),
    "events": ("bodysize_events:setup", "an events setup(server)", """
        def setup(server):
            async def on_request(req, res):
                res.end(str(len(await req.body())))
            server.on("request", on_request)
    """),
}


def post(port, size):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % size
                     + b"x" * size)
        return read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("kind", sorted(APPS))
def test_max_body_size_given_for_an_app_that_does_not_use_it_is_warned_about(kind, tmp_path):
    spec, role, source = APPS[kind]
    (tmp_path / f"{spec.split(':')[0]}.py").write_text(textwrap.dedent(source))
    daemon = Daemon("--app-dir", str(tmp_path), "--max-body-size", "1000", app=spec, workers=1)
    try:
        daemon.wait_ready()
        wait_until(lambda: f"argv:--max-body-size: has no effect on {role}" in daemon.log(), 10,
                   what=lambda: f"the warning in the log:\n{daemon.log()}")
        answer = post(daemon.port, 5000)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\n5000"), answer
    finally:
        daemon.cleanup()
