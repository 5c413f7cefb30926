"""A WebSocket handshake with a repeated ``Sec-WebSocket-Version`` or ``Sec-WebSocket-Key``
(RFC 6455 11.3.1 and 11.3.5: each appears once) is refused 400 before the app sees it; a
repeated version used to hide a malformed key from the key check (the joined ``13, 13``
was not version 13), and wsproto accepted the handshake."""

import pytest

from harness import read_until_close
from test_hostile_asgi_websocket import handshake, served  # noqa: F401 (the daemon fixture)

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


@pytest.mark.parametrize("key, extra, why", [
    (b"not-a-key", b"Sec-WebSocket-Version: 13\r\n", b"Sec-WebSocket-Version given more than once"),
    (KEY, b"Sec-WebSocket-Version: 13\r\n", b"Sec-WebSocket-Version given more than once"),
    (KEY, b"Sec-WebSocket-Key: " + KEY + b"\r\n", b"bad Sec-WebSocket-Key"),
])
def test_a_repeated_handshake_field_gets_a_400(served, key, extra, why):  # noqa: F811
    sock, head = handshake(served, key=key, extra=extra, expect=b"HTTP/1.1 400 Bad Request\r\n")
    assert b"\r\nConnection: close\r\n" in head
    assert read_until_close(sock).startswith(b"Bad WebSocket handshake: " + why)
    sock.close()
    served.healthy()


def test_a_single_version_and_key_still_open_the_websocket(served):  # noqa: F811
    sock, head = handshake(served, key=KEY)
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
    sock.close()
    served.healthy()
