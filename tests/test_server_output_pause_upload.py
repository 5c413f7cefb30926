"""A response larger than the socket's buffers, answered while its request's body is
still coming, to a client that sends its whole body before it reads (``http.client``,
``requests``): the server reads on through the body (the app's ``req.resume()``, or an
ASGI app that never reads it) while the response waits for the client. Node's server
stops reading for its output only at a new request's head; uvicorn reads on and drops
the body. prefork stopped reading mid-body for its unsent output, so neither side
moved again (the client blocked in its send, the response in the server's buffer)."""

import socket
import time

from harness import NODE, node_script_port
from prefork.asgi.adapter import ASGIAdapter

BIG = 8 * 1024 * 1024
UPLOAD = 40 * 1024 * 1024


def upload_then_read(port):
    """Sends a whole upload, then reads the answer; returns the bytes read (the send
    times out when the server stops reading)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    with sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % UPLOAD)
        sock.sendall(b"a" * UPLOAD)
        got = 0
        deadline = time.monotonic() + 10
        while got < BIG and time.monotonic() < deadline:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        return got


def test_an_event_app_that_discards_the_body(serve):
    def on_request(req, res):
        req.resume()
        res.end(b"y" * BIG)

    st = serve(lambda server, _: server.on("request", on_request))
    assert upload_then_read(st.port) > BIG


def test_an_asgi_app_that_never_reads_the_body(serve):
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(BIG).encode())]})
        await send({"type": "http.response.body", "body": b"y" * BIG})

    st = serve(lambda server, _: ASGIAdapter(app, lifespan="off").setup(server))
    assert upload_then_read(st.port) > BIG


NODE_SERVER = r"""
const http = require('http');
const s = http.createServer((req, res) => { req.resume(); res.end(Buffer.alloc(%d, 0x79)); });
s.listen(0, '127.0.0.1', () => { process.stdout.write(s.address().port + '\n'); });
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
""" % BIG


def test_node_reads_on():
    assert NODE is not None, "node (a tool this suite needs) is not on PATH"
    with node_script_port(NODE_SERVER) as port:
        assert upload_then_read(port) > BIG
