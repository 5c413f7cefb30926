"""``req.pipe(res)`` made after the request's ``end`` was emitted (its body read by a
``data`` listener, or by ``await req.body()``) never ended the response: the pipe
waited for an ``end`` that had come already, and the client hung. Node's pipe of an
ended stream ends the destination on the next tick (with ``{end: false}``: unpipes it,
``unpipe`` on the destination). The same requests go to Node's server and to
prefork's over loopback: the answers must be the same bytes."""

import re
import socket

from harness import NODE, node_script_port

NODE_SERVER = r"""
const http = require('http');
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  if (req.url === '/in-end') req.on('end', () => req.pipe(res));
  else if (req.url === '/later') req.on('end', () => setImmediate(() => req.pipe(res)));
  else if (req.url === '/no-end') {
    res.on('unpipe', () => res.end('unpiped'));
    req.on('end', () => req.pipe(res, {end: false}));
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""

REQUESTS = [
    b"GET /in-end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"POST /in-end HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /later HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /no-end HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
]


def answer(port, request):
    """The bytes until the server closes (b"<hung>" appended when it has not in 5 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            data += b"<hung>"
    return re.sub(rb"Date: [^\r]*", b"Date: -", data)


def setup(server, st):
    def on_request(req, res):
        if req.url == "/body":  # read by an awaited body(), then piped
            async def read_then_pipe():
                await req.body()
                req.pipe(res)
            return read_then_pipe()
        req.on("data", lambda chunk: None)
        if req.url == "/in-end":
            req.on("end", lambda: req.pipe(res))
        elif req.url == "/later":
            req.on("end", lambda: req.socket.loop.call_soon(req.pipe, res))
        elif req.url == "/no-end":
            res.on("unpipe", lambda source: res.end("unpiped"))
            req.on("end", lambda: req.pipe(res, end=False))
    server.on("request", on_request)


EMPTY = b"HTTP/1.1 200 OK\r\nDate: -\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
UNPIPED = b"HTTP/1.1 200 OK\r\nDate: -\r\nConnection: close\r\nContent-Length: 7\r\n\r\nunpiped"


def test_a_pipe_from_an_ended_request_ends_the_response(serve):
    st = serve(setup)
    ours = [answer(st.port, request) for request in REQUESTS]
    assert ours == [EMPTY, EMPTY, EMPTY, UNPIPED, EMPTY], ours
    if NODE is None:
        return
    with node_script_port(NODE_SERVER) as port:
        theirs = [answer(port, request) for request in REQUESTS[:4]]
    assert theirs == ours[:4], (theirs, ours)
