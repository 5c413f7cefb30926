"""Every header line reaches an ASGI app and the WebSocket handshake, also those past
``max_headers_count``'s cut of the raw list (Node's 2000 entries), as uvicorn (h11 and
httptools) passes every line of a head within the size limit. Before, the scope's
``headers`` stopped at the cut, and two ``Sec-WebSocket-Version`` lines past it read as
one line "13, 8" (a 426 in place of the 400 for a repeated version). The events API
keeps Node's cut: ``raw_headers`` and ``headers_distinct`` stop where Node's do; the
whole list is ``all_raw_headers``."""

import ast
import socket

from daemon import Daemon
from harness import read_until_close
from test_hostile_asgi import Served

UPGRADE = (b"GET /ws/echo HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


def status(sock):
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1024)
        assert chunk, head
        head += chunk
    return head.split(b"\r\n", 1)[0]


def test_an_asgi_app_sees_every_header_line_past_the_thousandth(tmp_path):
    s = Served(tmp_path)
    try:
        reply = s.request(b"/scope", b"X-F: b\r\n" * 2100 + b"X-Last: z\r\n")
        shown = ast.literal_eval(reply.split(b"\r\n\r\n", 1)[1].decode())
        names = [bytes.fromhex(n) for n, _ in shown["headers"]]
        assert names.count(b"x-f") == 2100
        assert names[-1] == b"x-last"
        s.healthy()
    finally:
        s.daemon.cleanup()


def test_two_websocket_version_lines_past_the_cut_are_a_400(tmp_path):
    s = Served(tmp_path)
    try:
        for filler in (10, 1999, 2100):
            sock = s.connect()
            sock.sendall(UPGRADE + b"A: b\r\n" * filler + b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 8\r\n\r\n")
            assert status(sock) == b"HTTP/1.1 400 Bad Request", filler
            sock.close()
        sock = s.connect()  # one line listing two versions stays a 426, past the cut too
        sock.sendall(UPGRADE + b"A: b\r\n" * 2100 + b"Sec-WebSocket-Version: 13, 8\r\n\r\n")
        assert status(sock) == b"HTTP/1.1 426 Upgrade Required"
        sock.close()
        s.healthy()
    finally:
        s.daemon.cleanup()


def test_the_events_api_keeps_nodes_cut_and_gives_every_line_beside_it():
    # (the figures Node v20 gives for the same heads: rawHeaders 8 and 2046 long, 998 "a"s)
    d = Daemon(app="apps.header_lists:setup", workers=1)
    try:
        d.wait_ready()
        for filler, expected in ((1, b"raw=8 all=8 map=1 distinct=1 last=Last:x all_last=Last:x"),
                                 (2100, b"raw=2046 all=4206 map=998 distinct=998 last=A:b all_last=Last:x")):
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"A: b\r\n" * filler
                         + b"Last: x\r\n\r\n")
            reply = read_until_close(sock)
            sock.close()
            assert reply.split(b"\r\n\r\n", 1)[1] == expected, reply
    finally:
        d.cleanup()


def test_upgrade_and_subprotocol_lines_past_the_thousandth_field_make_the_websocket():
    # (uvicorn: a 101 and the subprotocols ['chat', 'superchat'] with 2 or 1200 filler lines)
    d = Daemon("--interface", "asgi", app="apps.asgi_ws_subprotocols:app", workers=1)
    try:
        d.wait_ready()
        for filler in (2, 1200):
            sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            sock.sendall(b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + b"A: b\r\n" * filler
                         + b"Upgrade: websocket\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n")
            reply = read_until_close(sock)
            sock.close()
            assert reply.startswith(b"HTTP/1.1 101 "), (filler, reply[:200])
            assert reply.split(b"\r\n\r\n", 1)[1].startswith(b"\x81\x0echat,superchat"), (filler, reply)
    finally:
        d.cleanup()
