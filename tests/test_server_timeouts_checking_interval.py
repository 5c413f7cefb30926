"""``connections_checking_interval`` 0 keeps ``headers_timeout`` and ``request_timeout`` in
force, as Node's server does (its ``setInterval`` of 0 runs every millisecond): a head
trickled in, or a body that stops, gets the 408 at its deadline. (It used to turn the
checks off: a slowloris client held its connection for ever.) Node's own server is run
with the same options and bytes when Node is installed.
"""

import socket
import time

from harness import need_node, node_script_port, read_until_close

R408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"
HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"
BODY = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"

NODE_SERVER = r"""
const http = require('http');
const server = http.createServer({headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 0},
                                 (req, res) => { req.resume(); });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


def answer(port, data):
    """What the server sends to ``data`` until it closes, and when (seconds after the send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        start = time.monotonic()
        got = read_until_close(sock)  # (the socket's 5 s timeout bounds the wait)
        return got, time.monotonic() - start


def check(port):
    got, after = answer(port, HEAD)
    assert got == R408 and 0.25 < after < 1.5, (got, after)
    got, after = answer(port, BODY)
    assert got == R408 and 0.55 < after < 2.0, (got, after)


def test_a_checking_interval_of_0_still_times_out_heads_and_bodies(serve):
    st = serve(lambda server, _: server.on("request", lambda req, res: req.resume()),
               headers_timeout=0.3, request_timeout=0.6, connections_checking_interval=0)
    check(st.port)


def test_node_does_the_same():
    need_node()
    with node_script_port(NODE_SERVER) as port:
        check(port)
