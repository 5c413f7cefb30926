"""A request body nobody reads in the ``request`` listener is kept for a reader that
comes later (a ``data`` listener added from a timer), as Node keeps it: the reader gets
every byte, then ``end``. Only once its response is done is an unread body dropped
(Node's dump: ``end``, then ``close``). The same program runs on Node's own server when
Node is installed: the answers must match."""

import shutil
import socket
import subprocess
import time

from harness import read_until_close

NODE = shutil.which("node")

POST = b"POST /{} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"

NODE_PROGRAM = r"""
const http = require('http'), net = require('net');
const server = http.createServer((req, res) => {
  setTimeout(() => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => res.end('got ' + Buffer.concat(chunks).toString()));
  }, 20);
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1',
    () => c.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'));
  let got = '';
  c.on('data', (d) => { got += d.toString('latin1');
    if (got.includes('\r\n\r\n') && got.endsWith('hello')) { console.log(got.split('\r\n\r\n').pop()); process.exit(0); } });
  setTimeout(() => { console.log('no answer'); process.exit(0); }, 3000);
});
"""


def answer_of(port, data, timeout=3.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head, sep, body = got.partition(b"\r\n\r\n")
            if sep and b"content-length: %d\r\n" % len(body) in head.lower() + b"\r\n":
                return body
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
    return None


def test_a_data_listener_added_later_gets_the_whole_body(serve):
    def on_request(req, res):
        def later():
            chunks = []
            req.on("data", chunks.append)
            req.on("end", lambda: res.end(b"got " + b"".join(chunks)))
        req.socket.loop.call_later(0.02, later)
    st = serve(lambda server, _: server.on("request", on_request))
    assert answer_of(st.port, POST.replace(b"{}", b"")) == b"got hello"
    if NODE:
        run = subprocess.run([NODE, "-e", NODE_PROGRAM], capture_output=True, text=True, timeout=30)
        assert run.stdout.strip() == "got hello", run


def test_an_unread_body_is_dropped_once_the_response_is_done(serve):
    """Nobody reads it and the response comes later: the body is dropped at the
    response's end (``end`` after the response's ``close``, then ``close``), and the
    connection serves its next request."""
    def on_request(req, res):
        for event in ("end", "close"):
            req.on(event, lambda event=event: st.record("req." + event, req.url))
        res.on("close", lambda: st.record("res.close", req.url))
        req.socket.loop.call_later(0.02, res.end, req.url)
    st = serve(lambda server, _: server.on("request", on_request))
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(POST.replace(b"{}", b"a") + b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = read_until_close(sock)
    assert got.count(b"HTTP/1.1 200 OK") == 2 and got.endswith(b"/b"), got
    st.wait_for(lambda event: event == ("req.close", "/b"))
    first = [event[0] for event in st.call(list, st.events) if event[1] == "/a"]
    assert first == ["res.close", "req.end", "req.close"], first


def test_a_read_after_the_response_dropped_the_body_is_an_error(serve):
    """The response is done before anyone read the body: the dump dropped it, and a
    later ``await req.body()`` raises ERR_BODY_DISCARDED rather than return it empty."""
    def on_request(req, res):
        res.end("x")

        async def later():
            try:
                st.record("read", await req.body())
            except Exception as exc:  # noqa: BLE001 - its code is the answer
                st.record("read", getattr(exc, "code", repr(exc)))
        res.on("close", lambda: req.socket.loop.call_later(0.01, lambda: req.socket.loop.create_task(later())))
    st = serve(lambda server, _: server.on("request", on_request))
    assert answer_of(st.port, POST.replace(b"{}", b"")) == b"x"
    assert st.wait_for(lambda event: event[0] == "read") == ("read", "ERR_BODY_DISCARDED")
