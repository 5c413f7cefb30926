"""A plain HTTP request sent to the TLS port whose head came whole: its access log line
has the Referer and User-Agent it sent, as nginx logs them for its 400 in the clear
(prefork logged ``-`` for both although the head was read); a head cut short by the
client's pause, or one with a malformed line, still logs ``-``."""

import os
import socket

from daemon import Daemon, wait_until
from harness import read_until_close
from test_hostile_net_tls import pki  # noqa: F401  (a fixture)

WHOLE = (b"GET /plain HTTP/1.1\r\nHost: x\r\nReferer: http://example.test/from\r\n"
         b"User-Agent: Probe/1.0 (plain)\r\nAccept: */*\r\n\r\n")
CUT = b"GET /cut HTTP/1.1\r\nHost: x\r\nUser-Agent: Probe/2.0\r\n"  # (no head end: the client waits)
BAD = b"GET /bad HTTP/1.1\r\nHost: x\r\nUser-Agent: Probe/3.0\r\nno colon here\r\n\r\n"


def test_a_plain_request_to_the_tls_port_logs_the_referer_and_user_agent_it_sent(pki, tmp_path):  # noqa: F811
    access = str(tmp_path / "access.log")
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--access-log-flush", "0.1",
                    "--access-log-format", '"{r}" {s} {b} "{f}" "{a}"',
                    app="apps.basic:setup", workers=1, access_log=access)
    try:
        daemon.wait_ready()
        for request in (WHOLE, CUT, BAD):
            with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
                sock.sendall(request)
                assert read_until_close(sock).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        lines = lambda: open(access).read().splitlines() if os.path.exists(access) else []  # noqa: E731
        wait_until(lambda: len(lines()) >= 3, 15, what="the three access log lines")
        assert lines() == ['"GET /plain HTTP/1.1" 400 56 "http://example.test/from" "Probe/1.0 (plain)"',
                           '"GET /cut HTTP/1.1" 400 56 "-" "-"',
                           '"GET /bad HTTP/1.1" 400 56 "-" "-"']
    finally:
        daemon.cleanup()
