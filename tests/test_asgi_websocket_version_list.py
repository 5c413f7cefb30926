"""A ``Sec-WebSocket-Version`` line that lists several versions (``13, 8``) names no
version the server speaks: RFC 6455 4.2.2 answers it ``426 Upgrade Required`` with
``Sec-WebSocket-Version: 13``, so the client may retry with 13, as uvicorn answers it on
wsproto. Before, the one line was taken for the field given twice and answered 400. Two
lines of the field are still a 400 (RFC 6455 11.3.5: it appears once)."""

import pytest

from harness import read_until_close
from test_hostile_asgi_websocket import handshake, served  # noqa: F401 (the daemon fixture)


@pytest.mark.parametrize("version", ["13, 8", "8, 13", "13,13"])
def test_one_version_line_listing_several_gets_a_426_naming_13(served, version):  # noqa: F811
    sock, head = handshake(served, version=version, expect=b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in head, head
    assert b"\r\nConnection: close\r\n" in head, head
    assert read_until_close(sock).startswith(b"Bad WebSocket handshake: unsupported Sec-WebSocket-Version")
    sock.close()
    served.healthy()


def test_two_version_lines_still_get_a_400(served):  # noqa: F811
    sock, head = handshake(served, version="13", extra=b"Sec-WebSocket-Version: 8\r\n",
                           expect=b"HTTP/1.1 400 Bad Request\r\n")
    assert read_until_close(sock).startswith(b"Bad WebSocket handshake: Sec-WebSocket-Version given more than once")
    sock.close()
    served.healthy()
