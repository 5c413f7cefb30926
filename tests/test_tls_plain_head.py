"""A plain HTTP ``HEAD`` sent to the TLS port: its 400 in the clear is the head alone (RFC
9110 9.3.2: no content in an answer to HEAD), as nginx answers it beside, and the access
log counts no body bytes (its {b} is "-"); a GET still reads the text saying the port speaks HTTPS."""

import os
import re
import socket
import time

from daemon import Daemon, wait_until
from harness import read_until_close
from test_hostile_net_tls import pki  # noqa: F401  (a fixture)
from test_journey_net_tls import nginx_tls  # noqa: F401  (a fixture: nginx on the same certificate)

HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
GET = b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"


def answer(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return read_until_close(sock)


def test_a_plain_head_to_the_tls_port_gets_the_400_head_without_a_body(pki, nginx_tls, tmp_path):  # noqa: F811
    access = str(tmp_path / "access.log")
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--access-log-flush", "0.1",
                    app="apps.basic:setup", workers=1, access_log=access)
    try:
        daemon.wait_ready()
        for port in (nginx_tls, daemon.port):
            head, _, body = answer(port, HEAD).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"Connection: close" in head, (port, head)
            assert body == b"", (port, body)
        head, _, body = answer(daemon.port, GET).partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        assert body.startswith(b"This port speaks HTTPS") and len(body) == length
        lines = lambda: open(access).read().splitlines() if os.path.exists(access) else []  # noqa: E731
        wait_until(lambda: len(lines()) >= 2, 15, what="the two access log lines")
        assert '"HEAD / HTTP/1.1" 400 - ' in lines()[0], lines()
        assert f'"GET /plain HTTP/1.1" 400 {length} ' in lines()[1], lines()
    finally:
        daemon.cleanup()


def test_a_plain_head_in_pieces_still_gets_the_head_alone_and_its_line_logged(pki, tmp_path):  # noqa: F811
    """The method arriving in reads shorter than ``HEAD `` (a typing or very slow client):
    the answer and the access log line are those of the whole request line."""
    access = str(tmp_path / "access.log")
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--access-log-flush", "0.1",
                    app="apps.basic:setup", workers=1, access_log=access)
    try:
        daemon.wait_ready()
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for piece in (b"HE", b"AD", HEAD[4:]):  # three segments (apart in time: three reads)
                sock.sendall(piece)
                time.sleep(0.1)
            head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n") and body == b"", (head, body)
        lines = lambda: open(access).read().splitlines() if os.path.exists(access) else []  # noqa: E731
        wait_until(lambda: lines(), 15, what="the access log line")
        assert '"HEAD / HTTP/1.1" 400 - ' in lines()[0], lines()
    finally:
        daemon.cleanup()
