"""A response cut short (its client left in the middle of the body) still has its
access log line, with its status and the body bytes that went out, as nginx and
gunicorn log an aborted response; a response never begun has none."""

import socket
import textwrap

from daemon import Daemon, wait_until

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
            else:
                res.end(b"ok")
        server.on("request", on_request)
"""


def test_a_response_cut_short_by_its_client_is_logged_with_what_went_out(tmp_path):
    (tmp_path / "cut.py").write_text(textwrap.dedent(APP))
    access = tmp_path / "access.log"
    d = Daemon("--app-dir", str(tmp_path), "--access-log", str(access), "--access-log-flush", "0",
               "--access-log-format", "{m} {U} {s} {b}", app="cut:setup", workers=1)
    try:
        d.wait_ready()
        for path in ("/stream", "/never"):  # each client leaves; the stream's next write finds it gone
            client = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if path == "/stream":
                data = b""
                while data.count(b"x") < 1000:
                    data += client.recv(65536)
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
    assert len(lines) == 2 and "GET /last 200 2" in lines, lines
    method, path, status, size = next(line for line in lines if "/stream" in line).split()
    assert (method, path, status) == ("GET", "/stream", "200") and int(size) >= 1000 and int(size) % 100 == 0, lines
