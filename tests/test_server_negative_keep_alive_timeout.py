"""A ``keep_alive_timeout`` between -1 s and 0 set after the server's creation arms the
idle timer of it + 1 s, as Node's ``keepAliveTimeout = -500`` does (the idle socket
closes after 0.5 s; ``Keep-Alive: timeout=-1``). prefork took any negative value as off:
the idle connection stayed open for ever."""

import socket
import time

from harness import node_script_port

NODE = r"""
const http = require('http');
const s = http.createServer((req, res) => res.end('ok'));
s.keepAliveTimeout = -500;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"""


def idle_close(port):
    """The head of a GET's answer (Date masked), and the seconds from that answer to the
    server's close of the idle connection (None: still open after 3 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not got.endswith(b"ok"):
            got += sock.recv(4096)
        answered = time.monotonic()
        lines = [line for line in got.split(b"\r\n") if not line.startswith(b"Date:")]
        sock.settimeout(3.0)
        try:
            rest = sock.recv(4096)
        except socket.timeout:
            return lines, None
        assert rest == b""
        return lines, round(time.monotonic() - answered, 1)


def test_a_keep_alive_timeout_between_minus_one_and_zero_closes_idle_connections_as_node(serve):
    def setup(server, st):
        server.keep_alive_timeout = -0.5
        server.on("request", lambda req, res: res.end("ok"))
    got_lines, got_after = idle_close(serve(setup).port)
    with node_script_port(NODE) as port:
        lines, after = idle_close(port)
    assert b"Keep-Alive: timeout=-1" in lines and after is not None and 0.3 <= after <= 1.0
    assert got_lines == lines
    assert got_after is not None and abs(got_after - after) <= 0.3
