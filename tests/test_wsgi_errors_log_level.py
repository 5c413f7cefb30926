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


def test_a_wsgi_errors_record_above_the_log_level_names_where_it_was_logged(serve):
    """The record made for a line the log level leaves out names the function and line
    that logged it, as a record at any other level does (a %(funcName)s:%(lineno)d format
    printed None:0)."""
    import logging

    from hostile import exchange
    from prefork.wsgi import WSGIAdapter

    def app(environ, start_response):
        environ["wsgi.errors"].write("noted\n")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    wsgi_log, root = logging.getLogger("prefork.wsgi"), logging.getLogger()
    level = root.level
    wsgi_log.addHandler(handler)
    root.setLevel(logging.CRITICAL)
    try:
        st = serve(lambda server, st: WSGIAdapter(app).setup(server))
        data = exchange(st.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        root.setLevel(level)
        wsgi_log.removeHandler(handler)
    assert data.startswith(b"HTTP/1.1 200 OK"), data
    noted = [record for record in records if record.getMessage() == "noted"]
    assert len(noted) == 1 and noted[0].funcName == "_log_lines" and noted[0].lineno > 0, \
        [(r.getMessage(), r.funcName, r.lineno) for r in records]
