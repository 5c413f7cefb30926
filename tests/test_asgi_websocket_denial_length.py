"""A WebSocket denial response (``websocket.http.response.start``/``.body``) keeps the
``Content-Length`` its app declares, as an HTTP response does (docs/asgi.md): a body
that would go past it, or one that ends short of it, raises ``RuntimeError`` in the app;
a single body message that disagrees gets the client a whole ``500`` in its place, a
later one cuts the connection. A ``Content-Length`` that is not one decimal length
raises at the start. (Before, the bytes were written as they came: ``Content-Length:
2`` followed by six bytes, or by three of ten, and a length of ``abc`` went out.)"""


from daemon import Daemon, wait_until
from harness import get_until_close


def answer(port, path):
    return get_until_close(port, path, websocket=True)


def test_a_denial_body_that_disagrees_with_its_content_length_raises_and_is_never_sent(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_denial_length:app", workers=1, env={"ASGI_DENIAL_LOG": str(log)})
    try:
        d.wait_ready()
        for path in ("/long-whole", "/short-whole", "/not-a-number", "/conflicting"):
            data = answer(d.port, path)  # nothing of the app's response was out: a whole 500
            assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), (path, data)
            assert data.endswith(b"\r\n\r\nInternal Server Error"), (path, data)
        for path in ("/long-later", "/short-later"):
            data = answer(d.port, path)  # the head and the first part went out: cut there
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and b"\r\ncontent-length: " in head, (path, data)
            assert body == (b"ab" if path == "/long-later" else b"abc"), (path, data)
        data = answer(d.port, "/exact")
        assert data.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and data.endswith(b"\r\n\r\nabcdef"), data
        data = answer(d.port, "/repeated")  # the same length twice is that length
        assert data.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and data.endswith(b"\r\n\r\nabc"), data
        data = answer(d.port, "/no-body-status")
        assert data.startswith(b"HTTP/1.1 304 Not Modified\r\n") and data.endswith(b"\r\n\r\n"), data
        expected = {"/long-whole RuntimeError", "/short-whole RuntimeError", "/not-a-number RuntimeError",
                    "/conflicting RuntimeError", "/long-later RuntimeError", "/short-later RuntimeError",
                    "/exact returned", "/repeated returned", "/no-body-status returned"}
        wait_until(lambda: log.exists() and set(log.read_text().split("\n")[:-1]) == expected, 10,
                   what=f"the apps' records: {log.read_text() if log.exists() else None!r}")
    finally:
        d.cleanup()
