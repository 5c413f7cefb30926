"""A body message's ``body`` is taken the same way on HTTP and in a WebSocket denial
response (docs/asgi.md): None is empty, a ``str`` is UTF-8, any bytes-like object (an
``array``, a ``memoryview`` of 4-byte items) is its bytes, framed by its length in
bytes; an int raises TypeError (the client gets a 500 while nothing is out). Before, a
denial body of ``5`` went out as five NUL bytes, a ``memoryview`` of ints was framed as
a chunk of its item count (the client read the rest as the next chunk's size), a
``str`` failed, and an ``array`` was refused on HTTP."""


from daemon import Daemon, wait_until
from harness import get_until_close


def exchange(port, path, websocket):
    return get_until_close(port, path, websocket)


def test_a_body_is_taken_alike_on_http_and_in_a_denial_and_an_int_is_refused(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_body_types:app", workers=1, env={"ASGI_BODY_TYPES_LOG": str(log)})
    try:
        d.wait_ready()
        for websocket in (True, False):
            for path, body in (("/str", b"6\r\nh\xc3\xa9llo\r\n0\r\n\r\n"), ("/str-cl", b"h\xc3\xa9llo"),
                               ("/none", b"0\r\n\r\n"), ("/array", b"8\r\nAAAABBBB\r\n0\r\n\r\n"),
                               ("/view", b"8\r\nAAAABBBB\r\n0\r\n\r\n"), ("/view-cl", b"AAAABBBB")):
                data = exchange(d.port, path, websocket)
                assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (websocket, path, data)
                assert data.endswith(b"\r\n\r\n" + body), (websocket, path, data)
            for path in ("/int", "/int-cl"):
                data = exchange(d.port, path, websocket)
                assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), (websocket, path, data)
                assert b"\x00" not in data, data
        wait_until(lambda: log.exists() and log.read_text().count("\n") == 4, 10,
                   what=f"the apps' records: {log.read_text() if log.exists() else None!r}")
        records = log.read_text().splitlines()
        for kind in ("websocket", "http"):
            prefix = "websocket.http.response.body" if kind == "websocket" else "http.response.body"
            for path in ("/int", "/int-cl"):
                assert f"{kind} {path} TypeError: {prefix} 'body' must be bytes, not int" in records, records
        assert len(records) == 4, records  # nothing else raised
    finally:
        d.cleanup()
