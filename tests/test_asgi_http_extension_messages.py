"""A message of an ASGI extension the server does not offer (``http.response.trailers``,
``http.response.push``: a plain scope has no ``extensions``) raises a RuntimeError that
says so. Before, it said the message was "sent for an HTTP request", as if it were
some other protocol's."""


from daemon import Daemon, wait_until
from harness import get_until_close


def fetch(port, path):
    return get_until_close(port, path)


def test_a_message_of_an_extension_not_offered_raises_saying_so(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_extension_messages:app", workers=1, env={"ASGI_EXTENSION_LOG": str(log)})
    try:
        d.wait_ready()
        data = fetch(d.port, "/trailers")  # the response was complete before the trailers
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nabc"), data
        data = fetch(d.port, "/push")  # nothing was out: a 500
        assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), data
        wait_until(lambda: log.exists() and log.read_text().count("\n") == 2, 10,
                   what=f"the apps' records: {log.read_text() if log.exists() else None!r}")
        tail = ": this server offers no such extension (scope['extensions'] does not name it)."
        assert sorted(log.read_text().splitlines()) == [
            "/push RuntimeError: Unexpected ASGI message 'http.response.push'" + tail,
            "/trailers RuntimeError: Unexpected ASGI message 'http.response.trailers'" + tail]
    finally:
        d.cleanup()
