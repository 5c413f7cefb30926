"""A WebSocket handshake of more header lines than the server's raw list keeps
(``max_headers_count``, Node's 2000 entries) is taken when it is valid, as uvicorn takes
it: its fields past the cut are read from the map of every field. Before, a
``Sec-WebSocket-Version`` line past the cut was missing to wsproto: a 400 "Missing
header, 'Sec-WebSocket-Version'" for a valid handshake."""

from test_asgi_websocket import masked, read_frame
from test_hostile_asgi import Served


def test_a_valid_handshake_with_its_version_past_two_thousand_lines_is_accepted(tmp_path):
    s = Served(tmp_path)
    try:
        sock = s.connect()
        sock.sendall(b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + b"A: b\r\n" * 1999
                     + b"Sec-WebSocket-Version: 13\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101 "), head
        sock.sendall(masked(0x81, b"many fields"))
        assert read_frame(sock) == (0x1, b"many fields")
        sock.close()
        s.healthy()
    finally:
        s.daemon.cleanup()
