"""``max_header_size=0`` is Node's default limit (16384 counted bytes), not no limit, as
Node's ``maxHeaderSize: 0`` is: a head counted at 16383 bytes is served, one more byte
gets the canned 431. (It used to turn the limit off: a head of any size was read.) Node's
own server gets the same bytes when Node is installed.
"""

import socket

from harness import need_node, node_script_port, read_until

R431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n"
NODE_SERVER = r"""
const http = require('http');
const server = http.createServer({maxHeaderSize: 0}, (req, res) => res.end('hello'));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


def head(pad):
    # counted: the target "/", "Host", "x", "X-Pad" and the value (Node's count)
    return b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n"


def first_answer(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        return read_until(sock, b"\r\n\r\n")


def check(port):
    assert first_answer(port, head(16372)).startswith(b"HTTP/1.1 200 OK\r\n")
    assert first_answer(port, head(16373)) == R431
    assert first_answer(port, head(40000)) == R431


def test_a_max_header_size_of_0_is_the_default_limit(serve):
    st = serve(lambda server, _: server.on("request", lambda req, res: res.end("hello")), max_header_size=0)
    check(st.port)


def test_a_max_header_size_of_0_set_later_is_the_default_limit_too(serve):
    def setup(server, _):
        server.on("request", lambda req, res: res.end("hello"))
        server.max_header_size = 0
    check(serve(setup).port)


def test_node_does_the_same():
    need_node()
    with node_script_port(NODE_SERVER) as port:
        check(port)
