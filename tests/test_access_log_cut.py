"""A response cut short (its client left in the middle of the body) still has its
access log line, with its status and the body bytes that went out, as nginx and
gunicorn log an aborted response; a request never answered has one too, as nginx logs
it: 499 when its client left, 444 when the server ended the connection."""

import re
import signal
import socket
import textwrap
import time

from daemon import Daemon, wait_until
from harness import reading_client, reset

APP = """
    import asyncio

    def setup(server):
        def on_request(req, res):
            if req.url == "/stream":
                res.write_head(200, {"Content-Type": "text/plain"})
                res.write(b"x" * 1000)

                def more():  # an endless stream, until the client is gone
                    if not res.destroyed:
                        res.write(b"y" * 100)
                        asyncio.get_running_loop().call_later(0.02, more)
                more()
            elif req.url == "/never":
                pass  # never answered: the client leaves
            elif req.url == "/big":
                res.end(b"z" * (16 << 20))  # handed over whole; the client takes 1 MiB of it
            else:
                res.end(b"ok")
        server.on("request", on_request)
"""


def cut_daemon(tmp_path, log_format, *args):
    """The daemon serving APP, its access log in ``log_format``: (daemon, the log's path)."""
    (tmp_path / "cut.py").write_text(textwrap.dedent(APP))
    access = tmp_path / "access.log"
    return Daemon("--app-dir", str(tmp_path), "--access-log", str(access), "--access-log-flush", "0",
                  "--access-log-format", log_format, *args, app="cut:setup", workers=1), access


def test_a_response_cut_short_by_its_client_is_logged_with_what_went_out(tmp_path):
    d, access = cut_daemon(tmp_path, "{m} {U} {s} {b}")
    try:
        d.wait_ready()
        for path in ("/stream", "/never"):  # each client leaves; the stream's next write finds it gone
            client = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if path == "/stream":
                data = b""
                while data.count(b"x") < 1000:
                    data += client.recv(65536)
            else:
                wait_until(lambda: "GET /stream" in access.read_text(), 10, what="the stream's line")
                reset(client)
                continue
            client.close()
        client = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        client.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while client.recv(65536):
            pass
        client.close()
        wait_until(lambda: access.exists() and "GET /last 200 2" in access.read_text()
                   and "GET /stream" in access.read_text(), 10, what="the lines of the cut stream and the last request")
        lines = access.read_text().splitlines()
    finally:
        d.cleanup()
    assert len(lines) == 3 and "GET /last 200 2" in lines and "GET /never 499 -" in lines, lines
    method, path, status, size = next(line for line in lines if "/stream" in line).split()
    assert (method, path, status) == ("GET", "/stream", "200") and int(size) >= 1000 and int(size) % 100 == 0, lines


def test_a_cut_response_counts_the_bytes_that_went_out_and_the_time_until_the_cut(tmp_path):
    """A body handed over whole (16 MiB) to a client that takes 1 MiB, waits, then resets:
    the line says what the kernel took, not what the app wrote, and its duration runs to
    the reset."""
    d, access = cut_daemon(tmp_path, "{U} {s} {b} {D}")
    try:
        d.wait_ready()
        client = reading_client(d.port, b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        wait_until(lambda: time.monotonic() - started > 0.3, 5, what="a pause")  # the client dawdles
        reset(client)
        line = wait_until(lambda: re.search(r"^/big .*$", access.read_text(), re.M), 10, what="the line").group()
    finally:
        d.cleanup()
    _, status, size, micros = line.split()
    assert status == "200" and (1 << 20) <= int(size) < 8 << 20 and int(micros) > 300_000, line


def test_requests_the_drain_cuts_unanswered_are_logged_444_and_counted(tmp_path):
    """A graceful stop whose bound runs out on a request never answered: its line says
    444 (the server closed the connection without a response), as nginx logs one."""
    d, access = cut_daemon(tmp_path, "{U} {s} {b}", "--graceful-timeout", "0.5")
    try:
        d.wait_ready()
        client = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        client.sendall(b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: d.scrape().get(("prefork_connections_active", ())) == 1, 10, what="the request in")
        d.signal(signal.SIGTERM)
        assert client.recv(100) == b""  # cut without an answer
        client.close()
        assert d.wait_exit() == 0
        lines = access.read_text().splitlines()
    finally:
        d.cleanup()
    assert lines == ["/never 444 -"], lines
