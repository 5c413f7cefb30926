"""What an application writes to ``wsgi.errors`` is its own error output: it reaches the
error log whatever ``log_level`` says (gunicorn writes it at ``--log-level critical``
too), where prefork's own records below that level are left out."""

import socket
import uuid

import pytest

from daemon import Daemon, read_until_close


@pytest.mark.parametrize("threads", ["1", "4"])
def test_wsgi_errors_reach_the_error_log_at_log_level_critical(threads):
    d = Daemon("--interface", "wsgi", "--threads", threads, "--log-level", "critical",
               app="test_wsgi_defects:app", workers=1)
    try:
        token = uuid.uuid4().hex
        # (the listen socket is bound before the daemon starts: the request waits for the worker)
        sock = socket.create_connection(("127.0.0.1", d.port), timeout=20)
        try:
            sock.sendall(b"GET /errors?" + token.encode() + b"~list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_close(sock)
        finally:
            sock.close()
        assert data.startswith(b"HTTP/1.1 200 "), data
        d.wait_log(f"prefork.wsgi: printed {token} 42", timeout=10)
    finally:
        d.cleanup()
