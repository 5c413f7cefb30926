"""A server socket that a reset (or a refused write) ended reports it as Node's does:
its ``close`` says ``had_error`` True, whoever destroyed it (the server itself, or a
``clientError`` listener); and a write on a socket that the peer's FIN ended
(``allow_half_open`` false, a client socket's default) fails with Node's EPIPE, "This
socket has been ended by the other party"."""

import socket
import struct
import threading
import time

import pytest

from harness import NODE
from prefork.net import Socket

NODE_RESET = r"""
const http = require('http'); const net = require('net');
const mode = process.argv[1], path = process.argv[2];
const events = [];
const server = http.createServer((req, res) => {
  req.socket.on('error', (e) => events.push(['error', e.code]));
  req.socket.on('close', (h) => { events.push(['close', h]); server.close(); console.log(JSON.stringify(events)); });
  if (path === '/write') {
    const t = setInterval(() => { if (res.destroyed) return clearInterval(t); res.write('x'.repeat(65536)); }, 5);
  }
});
if (mode === 'destroy') server.on('clientError', (e, s) => { events.push(['clientError', e.code]); s.destroy(); });
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    setTimeout(() => c.resetAndDestroy(), 100);
  });
  c.on('error', () => {});
});
"""


def reset_client(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
        time.sleep(0.1)  # (the request is being served: a slow answer, or a body filling the window)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def serve_and_reset(serve, mode, path):
    def setup(server, st):
        def on_request(req, res):
            req.socket.on("error", lambda e: st.record("error", e.code))
            req.socket.on("close", lambda had_error=False: st.record("close", had_error))
            if req.url == "/write":
                def tick():
                    if not res.destroyed:
                        res.write(b"x" * 65536)
                        server.loop.call_later(0.005, tick)
                tick()
        server.on("request", on_request)
        if mode == "destroy":
            server.on("clientError", lambda e, s: (st.record("clientError", e.code), s.destroy()))
    st = serve(setup)
    reset_client(st.port, path)
    st.wait_for(lambda e: e[0] == "close")
    return [list(e) for e in st.events]


@pytest.mark.parametrize("mode", ["default", "destroy"])
@pytest.mark.parametrize("path", ["/slow", "/write"])
def test_a_reset_during_a_request_closes_the_socket_with_had_error(serve, mode, path):
    """The client resets while its answer is pending (or while a body is being written):
    the socket's ``error`` (ECONNRESET) is followed by ``close(True)``, with or without a
    ``clientError`` listener that destroys the socket; it said ``close(False)``."""
    events = serve_and_reset(serve, mode, path)
    expected = [["error", "ECONNRESET"], ["close", True]]
    if mode == "destroy":
        expected.insert(0, ["clientError", "ECONNRESET"])
    assert events == expected


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("mode", ["default", "destroy"])
def test_nodes_socket_says_the_same(mode):
    import json
    import subprocess
    out = subprocess.run([NODE, "-e", NODE_RESET, mode, "/slow"], capture_output=True, text=True,
                         timeout=10, check=True).stdout
    expected = [["error", "ECONNRESET"], ["close", True]]
    if mode == "destroy":
        expected.insert(0, ["clientError", "ECONNRESET"])
    assert json.loads(out) == expected


def test_a_write_after_the_peers_fin_ended_the_socket_is_epipe(serve):
    """A client socket (``allow_half_open`` false) whose peer sent its FIN and still reads:
    a write after the socket ended on that FIN fails with EPIPE, as Node's writeAfterFIN
    (it was ERR_STREAM_WRITE_AFTER_END, the code of the app's own write after end)."""
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    port = peer.getsockname()[1]

    def upstream():  # says hello and half-closes, reading on (an HTTP/1.0 server's answer)
        conn, _ = peer.accept()
        with conn:
            conn.settimeout(5)
            conn.sendall(b"hello")
            conn.shutdown(socket.SHUT_WR)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
    thread = threading.Thread(target=upstream)
    thread.start()
    st = serve()
    events = []

    def start():
        up = Socket.connect(st.loop, "127.0.0.1", port)
        up.on("data", lambda d: None)
        up.on("end", lambda: up.loop.call_soon(lambda: events.append(("ret", up.write(b"late")))))
        up.on("error", lambda e: events.append(("error", e.code, str(e), up.destroyed)))
        up.on("close", lambda had_error=False: (events.append(("close", had_error)), st.record("done")))
    st.call(start)
    st.wait_for(lambda e: e == ("done",))
    thread.join(5)
    peer.close()
    assert ("error", "EPIPE", "This socket has been ended by the other party", True) in events
    assert events[-1] == ("close", True)


def test_the_apps_own_write_after_end_is_still_write_after_end(serve):
    """A socket the app ended itself (its peer still open): ERR_STREAM_WRITE_AFTER_END."""
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    port = peer.getsockname()[1]
    st = serve()
    events = []

    def start():
        up = Socket.connect(st.loop, "127.0.0.1", port)

        def connected():
            up.end(b"a")
            up.write(b"b")
        up.on("connect", connected)
        up.on("error", lambda e: events.append(("error", e.code)))
        up.on("close", lambda had_error=False: (events.append(("close", had_error)), st.record("done")))
    st.call(start)
    conn, _ = peer.accept()
    st.wait_for(lambda e: e == ("done",))
    conn.close()
    peer.close()
    assert events == [("error", "ERR_STREAM_WRITE_AFTER_END"), ("close", True)]
