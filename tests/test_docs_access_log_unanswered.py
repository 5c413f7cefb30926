"""Requests that never got an answer, as docs/metrics.md states them: a connection the
server ends for an idle timeout the app set (``server.timeout``, ``res.set_timeout``)
logs its request as ``444`` and counts it; the request a hung worker is stuck in when
the master aborts it (the ``timeout`` setting) gets no line, while the lines of the
requests that worker answered before are written and its stack is in the error log."""

import re
import signal
import socket
import textwrap

from daemon import Daemon, wait_until

APP = """
    import time

    def setup(server):
        server.timeout = 0.3

        def on_request(req, res):
            if req.url == "/answered":
                res.end("ok")
            elif req.url == "/own-timeout":
                res.set_timeout(0.3)
            elif req.url == "/hang":
                time.sleep(30)
            # /idle: never answered; the server's idle timeout ends the connection
        server.on("request", on_request)
"""


def _ask(daemon, path):
    """Sends one request and reads until the server closes: (bytes read, closed)."""
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        sock.close()


def _lines(access):
    return access.read_text().splitlines() if access.exists() else []


def test_an_idle_timeout_of_the_app_logs_444_and_counts_it(tmp_path):
    (tmp_path / "unanswered.py").write_text(textwrap.dedent(APP))
    access = tmp_path / "access.log"
    daemon = Daemon("--app-dir", str(tmp_path), "--access-log-flush", "0", app="unanswered:setup", workers=1,
                    access_log=str(access))
    try:
        daemon.wait_ready()
        assert _ask(daemon, "/idle") == b""  # closed without an answer
        assert _ask(daemon, "/own-timeout") == b""
        lines = wait_until(lambda: (lambda t: t if len(t) == 2 else None)(_lines(access)), 10,
                           what="two access log lines")
        found = {re.search(r'"GET (\S+) HTTP/1\.1" (\d+) (\S+)', line).group(1, 2, 3) for line in lines}
        assert found == {("/idle", "444", "-"), ("/own-timeout", "444", "-")}, lines
        wait_until(lambda: daemon.scrape().get(
            ("prefork_requests_total", (("code", "444"), ("method", "GET")))) == 2, 10,
            what="two 444 in prefork_requests_total")
    finally:
        daemon.cleanup()


def test_the_request_a_hung_worker_is_aborted_in_has_no_line(tmp_path):
    (tmp_path / "unanswered.py").write_text(textwrap.dedent(APP))
    access = tmp_path / "access.log"
    daemon = Daemon("--app-dir", str(tmp_path), "--access-log-flush", "30", "--timeout", "2",
                    app="unanswered:setup", workers=1, access_log=str(access))
    try:
        daemon.wait_ready()
        assert daemon.request("/answered").endswith(b"ok")  # its line waits in the buffer (30 s flush)
        hung = socket.create_connection(("127.0.0.1", daemon.port), timeout=20)
        try:
            hung.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
            daemon.wait_log(r"died \(signal SIGABRT\)", timeout=20)
            assert hung.recv(65536) == b""  # the connection went with the worker, unanswered
        finally:
            hung.close()
        lines = wait_until(lambda: _lines(access) or None, 10, what="the buffered line written at the abort")
        assert len(lines) == 1 and '"GET /answered HTTP/1.1" 200' in lines[0], lines
        log = daemon.log()
        assert "sent no heartbeat" in log and "in on_request" in log, log  # its stack, from faulthandler
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
        assert len(_lines(access)) == 1, _lines(access)  # nothing for /hang, even at the exit
    finally:
        daemon.cleanup()
