"""Unread request bodies and bodiless answers, side by side with Node's own http.Server.

Rules under test (Node's): a request whose body nobody reads makes the server stop
reading once the request holds its high-water mark, while its response is pending;
once the response is done, the rest of the body is read and discarded. The peer sees
the same outcome from both servers: its upload stalls, or it flows to the end. A HEAD
answered with the application's ``Transfer-Encoding: chunked`` has that field in its
head and no byte of body, not even the last chunk, so the next response on the
connection starts right after the head: the same bytes from both servers.
"""

import re
import socket
import time

import pytest

from harness import NODE, node_script_port, read_until_close

MB = 1024 * 1024
UPLOAD = 64 * MB

NODE_SERVER = r"""
const http = require('http');
const s = http.createServer((req, res) => {
  if (req.url === '/answer') res.end('ok');
  if (req.url === '/te') { res.writeHead(200, {'Transfer-Encoding': 'chunked'}); res.end('hello'); }
  if (req.url === '/te-write') { res.setHeader('Transfer-Encoding', 'chunked'); res.write('a'); res.end('b'); }
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


def on_request(req, res):
    if req.url == "/answer":
        res.end(b"ok")
    elif req.url == "/te":
        res.write_head(200, {"Transfer-Encoding": "chunked"})
        res.end(b"hello")
    elif req.url == "/te-write":
        res.set_header("Transfer-Encoding", "chunked")
        res.write(b"a")
        res.end(b"b")


def upload_outcome(port, path, stall=2.0, seconds=30):
    """'flows' when the whole upload is taken, 'stalls' when the server stops reading."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path.encode(), UPLOAD))
        sock.setblocking(False)
        chunk = b"a" * (256 * 1024)
        sent = 0
        last_progress = time.monotonic()
        deadline = time.monotonic() + seconds
        while sent < UPLOAD and time.monotonic() < deadline:
            try:
                sent += sock.send(chunk[:UPLOAD - sent])
                last_progress = time.monotonic()
            except BlockingIOError:
                if time.monotonic() - last_progress > stall:
                    break
                time.sleep(0.005)
        return "flows" if sent == UPLOAD else "stalls"
    finally:
        sock.close()


@pytest.fixture(scope="module")
def node_port():
    if NODE is None:
        pytest.skip("node is not installed")
    with node_script_port(NODE_SERVER) as port:
        yield port


@pytest.mark.parametrize("path, expected", [("/never", "stalls"), ("/answer", "flows")])
def test_an_unread_body_stalls_or_flows_as_with_node(serve, node_port, path, expected):
    st = serve(lambda server, _st: server.on("request", on_request))
    assert upload_outcome(node_port, path) == expected
    assert upload_outcome(st.port, path) == expected


def exchange_masked(port, data):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(data)
        return re.sub(rb"Date: [^\r]*", b"Date: <DATE>", read_until_close(sock))
    finally:
        sock.close()


@pytest.mark.parametrize("path", ["/te", "/te-write"])
def test_a_head_answered_chunked_by_the_app_sends_no_chunk_as_with_node(serve, node_port, path):
    st = serve(lambda server, _st: server.on("request", on_request))
    data = (b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode()) * 2 + \
        b"GET /answer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ours = exchange_masked(st.port, data)
    assert ours == exchange_masked(node_port, data)
    head = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <DATE>\r\nConnection: keep-alive\r\n"
            b"Keep-Alive: timeout=5\r\n\r\n")
    assert ours.startswith(head * 2 + b"HTTP/1.1 200 OK\r\n") and ours.endswith(b"\r\n\r\nok")
