"""The access log's ``{b}`` as the documents state it (`--help`, docs/gunicorn.md): the
body's bytes, or ``-`` for a response without body bytes, as Apache writes it. A response
whose app declared ``Content-Length: 0`` (Django's redirects do, on ASGI) sends no body
byte either, so its line says ``-`` too, on every interface."""

import re
import textwrap

import pytest

from daemon import Daemon, wait_until

APPS = {
    "events": ("evempty:setup", """
        def setup(server):
            def on_request(req, res):
                if req.url == "/cl0":
                    res.status_code = 302
                    res.set_header("Location", "/")
                    res.set_header("Content-Length", "0")
                    res.end()
                elif req.url == "/none":
                    res.status_code = 302
                    res.set_header("Location", "/")
                    res.end()
                else:
                    res.set_header("Content-Length", "5")
                    res.end("hello")
            server.on("request", on_request)
    """),
    "asgi": ("asgiempty:app", """
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            if scope["path"] == "/cl0":
                head = [(b"location", b"/"), (b"content-length", b"0")]
                status, body = 302, b""
            elif scope["path"] == "/none":
                head, status, body = [(b"location", b"/")], 302, b""
            else:
                head, status, body = [(b"content-length", b"5")], 200, b"hello"
            await send({"type": "http.response.start", "status": status, "headers": head})
            await send({"type": "http.response.body", "body": body})
    """),
    "wsgi": ("wsgiempty:app", """
        def app(environ, start_response):
            path = environ["PATH_INFO"]
            if path == "/cl0":
                start_response("302 Found", [("Location", "/"), ("Content-Length", "0")])
                return [b""]
            if path == "/none":
                start_response("302 Found", [("Location", "/")])
                return [b""]
            start_response("200 OK", [("Content-Length", "5")])
            return [b"hello"]
    """),
}


@pytest.mark.parametrize("flush", ["0", "0.2"])  # written at once, or held and made at the flush
@pytest.mark.parametrize("kind", sorted(APPS))
def test_a_response_without_body_bytes_is_logged_with_a_dash_whatever_its_content_length(kind, flush, tmp_path):
    spec, source = APPS[kind]
    (tmp_path / f"{spec.split(':')[0]}.py").write_text(textwrap.dedent(source))
    access = tmp_path / "access.log"
    daemon = Daemon("--app-dir", str(tmp_path), "--access-log-flush", flush, app=spec, workers=1,
                    access_log=str(access))
    try:
        daemon.wait_ready()
        for path in ("/cl0", "/none", "/body"):
            assert daemon.request(path).startswith(b"HTTP/1.1 "), path
        lines = wait_until(lambda: (lambda t: t if len(t) == 3 else None)(
            access.read_text().splitlines() if access.exists() else []), 10, what="three access log lines")
        sizes = {re.search(r'"GET (\S+) HTTP/1\.1" (\d+) (\S+)', line).group(1, 3) for line in lines}
        assert sizes == {("/cl0", "-"), ("/none", "-"), ("/body", "5")}, lines
    finally:
        daemon.cleanup()
