"""An app's ``websocket.close`` whose reason UTF-8 cannot encode (a lone surrogate)
raises ``UnicodeEncodeError`` in the app, as under uvicorn, while the session is still
open: the app that lets it escape is closed with 1011, the one that returns with 1000,
and the socket is closed either way. (The session was marked closing before the frame
failed to encode: no close frame went out, no close timer ran, and the connection
stayed open for as long as the client kept it.) A real daemon, a raw client."""

import socket
import struct

import pytest

from daemon import Daemon, wait_until


def close_after_accept(port, path):
    """The frames the server sends after its 101, to the end of the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 "), head
    return frames


@pytest.mark.parametrize("path, code", [(b"/return", 1000), (b"/raise", 1011)])
def test_a_close_reason_that_utf8_cannot_encode_raises_and_the_session_still_closes(tmp_path, path, code):
    log = tmp_path / "log"
    d = Daemon("--interface", "asgi", "--ws-ping-interval", "0", app="apps.asgi_close_reason_surrogate:app",
               workers=1, env={"ASGI_CLOSE_REASON_LOG": str(log)})
    try:
        d.wait_ready()
        assert close_after_accept(d.port, path) == b"\x88\x02" + struct.pack("!H", code)
        wait_until(lambda: log.exists() and log.read_text(), 10, what="the app's record")
        assert log.read_text() == f"{path.decode()} UnicodeEncodeError\n"
    finally:
        d.cleanup()
