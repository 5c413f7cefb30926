"""A streamed body whose first message is already past the ``Content-Length`` the app
declared, while nothing of the response is out, raises in the app and gets the client
a whole ``500`` (docs/asgi.md: an app that raises while no byte of its response is out
gets a 500; a WebSocket denial answers it so too). Before, the connection was closed
with nothing sent: the client saw an empty reply. Once the head is out, the connection
is still cut at the length's breach."""


from daemon import Daemon, wait_until
from harness import get_until_close


def fetch(port, path):
    return get_until_close(port, path)


def test_a_first_chunk_past_the_declared_length_gets_a_500_and_a_later_one_cuts(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_first_chunk:app", workers=1, env={"ASGI_FIRST_CHUNK_LOG": str(log)})
    try:
        d.wait_ready()
        data = fetch(d.port, "/first")
        assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), data
        assert data.endswith(b"\r\n\r\nInternal Server Error"), data
        data = fetch(d.port, "/later")  # the head and "abc" went out: cut there
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\ncontent-length: 5" in head.lower(), data
        assert body == b"abc", data
        wait_until(lambda: log.exists() and log.read_text().count("\n") == 2, 10,
                   what=f"the apps' records: {log.read_text() if log.exists() else None!r}")
        assert sorted(log.read_text().splitlines()) == [
            "/first RuntimeError: Response content longer than Content-Length.",
            "/later RuntimeError: Response content longer than Content-Length."]
    finally:
        d.cleanup()
