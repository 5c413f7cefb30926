"""Timeouts and a connection's lifetime as Node v20's server keeps them, where they used to differ:

- the keep-alive timer starts at the response's ``finish`` (all its bytes in the
  kernel), not at ``end()``: a slow reader's download is not cut after
  ``keep_alive_timeout`` + 1 s, and a timeout during that flush reaches the response's
  ``timeout`` listener;
- a response ended on a later loop turn, on a connection its answer closes, finishes
  before it closes (``finish``, then ``close``, the request not aborted);
- line ends alone before a fresh connection's first request start no message: its
  ``headers_timeout`` clock runs from accept;
- ``res.set_timeout()`` on a pipelined response waiting its turn arms the socket when
  its turn comes; on a finished response it no longer touches the socket;
- the server's own timeout handling runs before the socket's ``timeout`` listeners;
- a socket handed to an ``upgrade`` listener keeps the server's timeout;
- ``res.writable`` (Node 20's: always true).

When Node is installed, its server is the reference for the events of the second case.
"""

import json
import shutil
import socket
import subprocess
import time

import pytest

from hostile import read_to_close

NODE = shutil.which("node")


def connect(port, rcvbuf=None):
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def read_response(sock, end=b"0\r\n\r\n", limit=10.0):
    got = bytearray()  # (bytes += would copy 16 MiB over and over)
    deadline = time.monotonic() + limit
    while not got.endswith(end):
        assert time.monotonic() < deadline, f"no whole response: {len(got)} bytes, ends {bytes(got[-40:])!r}"
        chunk = sock.recv(1 << 20)
        assert chunk, f"closed after {len(got)} bytes"
        got += chunk
    return bytes(got)


BLOCKS = 16  # MiB written: more than the kernel's send and receive buffers take (tcp_wmem's max is often 4 MiB)


def test_a_download_that_waits_on_a_slow_reader_is_not_cut_by_the_keep_alive_timer(serve):
    """16 MiB written then ended; the client reads nothing for longer than the keep-alive
    timer (0.3 s + 1 s), then everything: the whole body arrives and the connection
    serves the next request. (It used to get a FIN after about 3 MB.)"""
    block = b"x" * (1 << 20)

    def setup(server, st):
        def on_request(req, res):
            if req.url == "/big":
                st.record("socket", req.socket)
                for _ in range(BLOCKS):
                    res.write(block)
            res.end("done")
        server.on("request", on_request)

    st = serve(setup, keep_alive_timeout=0.3)
    with connect(st.port, rcvbuf=4096) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sock.recv(200)
        assert head.startswith(b"HTTP/1.1 200 OK"), head
        # the writer is stuck on the kernel's full buffers now; wait past the timer's
        # deadline on the server's own clock of the last write
        conn_socket = st.wait_for(lambda e: e[0] == "socket")[1]
        deadline = time.monotonic() + 10
        while time.monotonic() - st.call(lambda: conn_socket.last_activity) < 1.6:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        body = head + read_response(sock, limit=20)
        assert body.count(b"x") == BLOCKS << 20 and body.endswith(b"4\r\ndone\r\n0\r\n\r\n")
        sock.sendall(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock, end=b"done").startswith(b"HTTP/1.1 200 OK")


def test_a_timeout_during_the_flush_reaches_the_responses_listener_and_keeps_the_connection(serve):
    """``res.set_timeout(0.3, cb)`` after ``end()`` while the bytes wait on a reader: the
    response's listener is called (Node's socket._httpMessage is the response until its
    'finish') and, handled, the connection is kept."""
    block = b"x" * (1 << 20)

    def setup(server, st):
        def on_request(req, res):
            for _ in range(BLOCKS):
                res.write(block)
            res.end()
            res.set_timeout(0.3, lambda sock: st.record("timeout", res.writable_finished, sock.destroyed))
        server.on("request", on_request)

    st = serve(setup, keep_alive_timeout=0.2)
    with connect(st.port, rcvbuf=4096) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 200 OK")
        event = st.wait_for(lambda e: e[0] == "timeout")
        assert event == ("timeout", False, False)
        body = read_response(sock, limit=20)
        assert body.endswith(b"0\r\n\r\n")


NODE_LATE_CLOSE = r"""
const http = require('http'), net = require('net');
const events = [];
const server = http.createServer((req, res) => {
  req.on('aborted', () => events.push('req aborted'));
  req.on('error', (e) => events.push('req error ' + e.code));
  req.on('close', () => events.push('req close'));
  res.on('finish', () => events.push('res finish'));
  res.on('close', () => events.push('res close ' + res.writableFinished));
  setTimeout(() => res.end('late', () => events.push('end callback')), 50);
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write(process.argv[1]));
  let got = '';
  c.on('data', (d) => { got += d.toString('latin1'); });
  c.on('close', () => setTimeout(() => {
    console.log(JSON.stringify({ events, answered: got.endsWith('late') }));
    server.close();
  }, 100));
});
"""


def test_a_late_answer_that_closes_its_connection_finishes_before_the_close(serve):
    """Answered 50 ms later on a ``Connection: close`` request (and an HTTP/1.0 one): the
    response finishes, then closes, the request is not aborted, as in Node. (The
    connection's close used to reach the response first: 'aborted', an ECONNRESET on
    the request, 'close' with writable_finished False, then 'finish'.)"""
    for read in (b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET /a HTTP/1.0\r\n\r\n"):
        def setup(server, st):
            def on_request(req, res):
                req.on("aborted", lambda: st.record("req aborted"))
                req.on("error", lambda err: st.record("req error " + err.code))
                req.on("close", lambda: st.record("req close"))
                res.on("finish", lambda: st.record("res finish"))
                res.on("close", lambda: st.record(f"res close {str(res.writable_finished).lower()}"))
                st.loop.call_later(0.05, lambda: res.end("late", lambda: st.record("end callback")))
            server.on("request", on_request)

        st = serve(setup)
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(read)
            data = read_to_close(sock)
        assert data.endswith(b"late"), data
        st.wait_for(lambda e: e[0] == "req close")
        events = [e[0] for e in st.events]
        assert events == ["res finish", "end callback", "res close true", "req close"], events
        if NODE:
            out = subprocess.run([NODE, "-e", NODE_LATE_CLOSE, read.decode("latin-1")], capture_output=True,
                                 text=True, timeout=30)
            node = json.loads(out.stdout.strip().splitlines()[-1])
            assert node["answered"] and node["events"] == events, node


def test_line_ends_alone_do_not_restart_a_fresh_connections_headers_clock(serve):
    """A client that sends only CRLF, again and again, on a fresh connection gets its 408
    at ``headers_timeout`` from accept, as from Node (the clock used to restart at each
    read, so it was never timed out)."""
    st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")),
               headers_timeout=0.3, request_timeout=5.0, connections_checking_interval=0.05)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.setblocking(False)
        started = time.monotonic()
        got = b""
        while time.monotonic() - started < 3:
            try:
                sock.send(b"\r\n")
            except OSError:
                break
            time.sleep(0.05)
            try:
                chunk = sock.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"HTTP/1.1 408 Request Timeout"), got
        assert time.monotonic() - started < 1.5


def test_set_timeout_on_a_response_waiting_its_turn_waits_for_its_turn(serve):
    """Pipelined: /slow is answered 0.5 s later; /b, queued behind it, sets a 0.2 s
    timeout and ends. Node arms it when /b's turn comes: both answers arrive. (The
    socket used to be armed at once and destroyed before /slow's answer.)"""
    def setup(server, st):
        def on_request(req, res):
            if req.url == "/slow":
                st.loop.call_later(0.5, res.end, "slow")
            else:
                res.set_timeout(0.2)
                res.end("b")
        server.on("request", on_request)

    st = serve(setup)
    with connect(st.port) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while not got.endswith(b"\r\n\r\nb"):
            chunk = sock.recv(4096)
            assert chunk, got
            got += chunk
        assert got.count(b"HTTP/1.1 200 OK") == 2 and b"\r\n\r\nslow" in got


def test_set_timeout_on_a_finished_response_leaves_the_socket_alone(serve):
    """After 'finish' Node's res.socket is null: res.setTimeout(0.1) there does not cut
    the idle keep-alive connection (the socket's timeout stays the keep-alive timer's)."""
    def setup(server, st):
        def on_request(req, res):
            sock = req.socket
            res.on("finish", lambda: (res.set_timeout(0.1), st.record("after", sock.timeout)))
            res.end("ok")
        server.on("request", on_request)

    st = serve(setup, keep_alive_timeout=2.0)
    with connect(st.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock, end=b"ok").startswith(b"HTTP/1.1 200 OK")
        assert st.wait_for(lambda e: e[0] == "after") == ("after", 3.0)


def test_the_servers_timeout_handling_runs_before_the_sockets_listeners(serve):
    """A socket 'timeout' listener added by the app runs after the server's own handling,
    as in Node (whose listener was added at the connection's start): with nobody
    handling the timeout the socket is destroyed already, and what the listener writes
    goes nowhere."""
    def setup(server, st):
        def on_request(req, res):
            sock = req.socket
            sock.set_timeout(0.2, lambda: (st.record("listener", sock.destroyed),
                                           sock.write(b"HTTP/1.1 408 X\r\n\r\n")))
        server.on("request", on_request)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_to_close(sock) == b""
    assert st.wait_for(lambda e: e[0] == "listener") == ("listener", True)


def test_a_socket_handed_to_an_upgrade_listener_keeps_the_servers_timeout(serve):
    """server.timeout 0.2 s: the upgraded socket still emits 'timeout' (not destroyed:
    the server's handling left with HTTP), as Node's does."""
    def setup(server, st):
        def on_upgrade(req, sock, head):
            sock.on("timeout", lambda: st.record("timeout", sock.destroyed))
            sock.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
        server.on("upgrade", on_upgrade)
        server.set_timeout(0.2)

    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
        assert st.wait_for(lambda e: e[0] == "timeout") == ("timeout", False)


def test_writable(serve):
    def setup(server, st):
        def on_request(req, res):
            before = res.writable
            res.end("ok")
            st.record("writable", before, res.writable)
        server.on("request", on_request)

    st = serve(setup)
    with connect(st.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(sock, end=b"ok")
    assert st.wait_for(lambda e: e[0] == "writable") == ("writable", True, True)  # Node 20's: always true


def stalled_download(serve, setup_extra=None, **options):
    """A server whose /big writes BLOCKS MiB and ends; the client (rcvbuf 4 KiB) reads the
    head and then nothing. Returns (st, sock, ended): ``ended`` is when end() ran."""
    block = b"x" * (1 << 20)

    def setup(server, st):
        def on_request(req, res):
            if setup_extra is not None:
                setup_extra(req, res, st)
            for _ in range(BLOCKS):
                res.write(block)
            res.end()
            st.record("ended", time.monotonic())
        server.on("request", on_request)
        server.on("close", lambda: st.record("server close"))

    st = serve(setup, **options)
    sock = connect(st.port, rcvbuf=4096)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(200).startswith(b"HTTP/1.1 200 OK")
    return st, sock, st.wait_for(lambda e: e[0] == "ended")[1]


def test_a_drain_with_keep_alive_off_closes_a_connection_once_its_download_is_out(serve):
    """keep_alive_timeout 0 and a drain during a download: the connection closes once the
    response is out (and the server then emits 'close'); it stayed open for good."""
    st, sock, _ = stalled_download(serve, keep_alive_timeout=0)
    with sock:
        st.call(st.server.drain)
        body = read_response(sock, limit=20)
        assert body.endswith(b"0\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(1) == b""
    st.wait_for(lambda e: e[0] == "server close")


def test_a_timeout_set_during_the_request_applies_to_the_flush(serve):
    """``req.socket.set_timeout(0.5, cb)`` in the request listener, the client stalls: the
    timeout fires during the flush and, unhandled, the connection is destroyed, as in
    Node (the keep-alive timer armed at end() used to replace it, and the download waited
    on send_timeout)."""
    def arm(req, res, st):
        req.socket.set_timeout(0.5, lambda: st.record("timeout", time.monotonic()))
        req.socket.on("close", lambda *_: st.record("socket close", time.monotonic()))
    st, sock, ended = stalled_download(serve, arm, keep_alive_timeout=2.0)
    with sock:
        fired = st.wait_for(lambda e: e[0] == "timeout")[1]
        closed = st.wait_for(lambda e: e[0] == "socket close")[1]
        assert fired - ended < 2.0 and closed - ended < 2.5


def test_server_timeout_applies_to_the_flush(serve):
    """server.timeout 0.5 s and keep_alive_timeout 3 s: a stalled download is timed out
    about server.timeout after its last progress, as Node times it out, not after the
    keep-alive timer (4 s) first."""
    def watch(req, res, st):
        req.socket.on("close", lambda *_: st.record("socket close", time.monotonic()))
    st, sock, ended = stalled_download(serve, watch, keep_alive_timeout=3.0, timeout=0.5)
    with sock:
        closed = st.wait_for(lambda e: e[0] == "socket close", timeout=10)[1]
        assert closed - ended < 2.5
