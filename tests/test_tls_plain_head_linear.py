"""A plain HTTP request sent to the TLS port is read for the access log in time linear in
its bytes: a field whose value holds thousands of blanks before a last character took
the worker's loop about a second per 8 KiB request (a backtracking match), stalling every
other connection of that worker, from a peer that needs no certificate. Its 400 now
comes at once, and the field is still logged, its blanks trimmed at both ends only."""

import os
import socket
import subprocess
import sys

from daemon import Daemon, wait_until
from harness import read_until_close
from test_hostile_net_tls import pki  # noqa: F401  (a fixture)

BLANKS = b" " * 8000  # the head stays inside the 8 KiB the TLS layer keeps of a plain stream


def _plain(value):
    return b"GET /plain HTTP/1.1\r\nHost: x\r\nUser-Agent: " + value + b"\r\n\r\n"


def test_a_plain_request_whose_field_holds_many_blanks_is_answered_at_once_and_logged(pki, tmp_path):  # noqa: F811
    access = str(tmp_path / "access.log")
    daemon = Daemon("--certfile", pki.cert, "--keyfile", pki.key, "--access-log-flush", "0.1",
                    "--access-log-format", '"{r}" {s} "{a}"', app="apps.basic:setup", workers=1, access_log=access)
    try:
        daemon.wait_ready()
        requests = [_plain(b"x" + BLANKS + b"y")] * 4 + [_plain(b" \t Probe/1.0 (plain) \t ")]
        for request in requests:
            with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
                sock.sendall(request)
                assert read_until_close(sock).startswith(b"HTTP/1.1 400 Bad Request\r\n")
        lines = lambda: open(access).read().splitlines() if os.path.exists(access) else []  # noqa: E731
        wait_until(lambda: len(lines()) >= 5, 15, what="the five access log lines")
        assert lines()[:4] == ['"GET /plain HTTP/1.1" 400 "x' + " " * 8000 + 'y"'] * 4
        assert lines()[4] == '"GET /plain HTTP/1.1" 400 "Probe/1.0 (plain)"'
    finally:
        daemon.cleanup()


def test_reading_a_field_of_many_blanks_is_linear_in_its_bytes():
    """200,000 blanks: a backtracking read takes about (200/8)^2 seconds (minutes); a linear one
    milliseconds. The deadline only tells the two apart, it measures nothing."""
    code = ("from prefork.net.plainhttp import plain_request\n"
            "line, fields = plain_request(b'GET / HTTP/1.1\\r\\na:x' + b' ' * 200000 + b'y\\r\\n\\r\\n')\n"
            "assert fields == {'a': 'x' + ' ' * 200000 + 'y'}, fields\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
