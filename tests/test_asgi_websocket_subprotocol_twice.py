"""A ``websocket.accept`` that names its subprotocol both as ``subprotocol`` and as a
``Sec-WebSocket-Protocol`` header raises in the app, and the client gets a ``500``
(docs/asgi.md: an accept that cannot be sent). Before, the 101 carried two
Sec-WebSocket-Protocol fields, which clients refuse (RFC 6455 4.3; the ``websockets``
client: "invalid Sec-WebSocket-Protocol header: multiple values"), with nothing logged.
Either one alone still answers 101 with one field."""


from daemon import Daemon, wait_until
from harness import get_until_close


def handshake(port, path):
    return get_until_close(port, path, websocket=True, fields=b"Sec-WebSocket-Protocol: chat, other\r\n")


def test_an_accept_naming_its_subprotocol_twice_gets_a_500_and_either_alone_a_101(tmp_path):
    log = tmp_path / "log"
    d = Daemon(app="apps.asgi_subprotocol_twice:app", workers=1, env={"ASGI_SUBPROTOCOL_LOG": str(log)})
    try:
        d.wait_ready()
        data = handshake(d.port, "/twice")
        assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), data
        for path in ("/header", "/field"):
            data = handshake(d.port, path)
            head = data.partition(b"\r\n\r\n")[0]
            assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), (path, data)
            assert head.lower().count(b"\r\nsec-websocket-protocol: chat") == 1, (path, data)
        wait_until(lambda: log.exists() and log.read_text().count("\n") == 1, 10,
                   what=f"the app's records: {log.read_text() if log.exists() else None!r}")
        assert log.read_text().startswith("/twice RuntimeError: websocket.accept names its subprotocol twice"), \
            log.read_text()
    finally:
        d.cleanup()
