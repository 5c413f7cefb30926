"""The first call of ``start_response``'s ``write()`` sends the head even with no bytes
(PEP 3333: the headers go out "upon the application's first invocation of the write()
callable"), on threads as on the loop, as gunicorn does: an app that calls ``write(b"")``
to let its client see the status before a long wait is not left silent until its
first bytes."""

import socket
import textwrap

import pytest

from daemon import Daemon
from harness import read_until_close

APP = """
    import os
    import time

    def app(environ, start_response):
        marker = environ["QUERY_STRING"]
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"")
        deadline = time.monotonic() + 10
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
        return [b"done"]
"""


@pytest.mark.parametrize("threads", [1, 4])
def test_an_empty_write_sends_the_head_before_the_app_returns(tmp_path, threads):
    (tmp_path / "empty_write.py").write_text(textwrap.dedent(APP))
    marker = tmp_path / "go"
    d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads),
               app="empty_write:app", workers=1)
    try:
        d.wait_ready()
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        try:
            sock.sendall(b"GET /?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % str(marker).encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)  # (times out, failing, when the head waits for the app)
                assert chunk, head
                head += chunk
            assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
            assert not marker.exists()  # the app is still waiting: the head came first
            marker.write_text("")
            rest = head + read_until_close(sock)
        finally:
            sock.close()
        assert rest.endswith(b"4\r\ndone\r\n0\r\n\r\n"), rest
    finally:
        d.cleanup()
