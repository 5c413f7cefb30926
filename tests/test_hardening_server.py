"""Regression tests for the server-side defects of issue 10 (hardening).

Each test talks to a real server over loopback sockets (a Server whose loop runs in a
thread of this process, or a real daemon) and asserts what the client sees, which
requests reached the app, and that every socket is closed again (the open-fd count of
this process returns to its baseline).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import prefork
from daemon import python_env, wait_until
from harness import read_until_close
from test_server_api import connect, read_all

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def count_heads(data):
    return len(re.findall(rb"HTTP/1\.1 \d\d\d ", data))


@pytest.fixture
def fd_baseline():
    """The test's open-fd count must come back to where it started (after its servers
    are set up, their listen sockets included)."""
    box = {}

    def mark(st_):
        st_.call(lambda: None)  # the loop's wakeup pair exists from here on
        box["n"] = open_fds()
    yield mark

    def settled():
        return open_fds() <= box["n"]
    if "n" in box:
        wait_until(settled, 5, what=f"fd count back to {box['n']} (now {open_fds()})")


def recording(answer):
    """A setup that records each request's url, then calls ``answer(server, req, res)``."""
    def setup(server, st_):
        def on_request(req, res):
            st_.record("request", req.url)
            answer(server, req, res)
        server.on("request", on_request)
    return setup


# -- 2: nothing after a final response reaches the app or the wire ---------------------------
def test_missing_host_400_stops_the_pipeline(serve, fd_baseline):
    st_ = serve(recording(lambda server, req, res: res.end("hello")))
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GET /first HTTP/1.1\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n")
    assert data.endswith(b"\r\n0\r\n\r\n") and count_heads(data) == 1
    assert st_.call(lambda: [e for e in st_.events if e[0] == "request"]) == []


@pytest.mark.parametrize("delay", [0, 0.05], ids=["sync", "async"])
def test_http10_close_delimited_response_is_the_last(serve, fd_baseline, delay):
    def answer(server, req, res):
        if delay:
            server.loop.call_later(delay, res.end, "first" if req.url == "/1" else "second")
        else:
            res.end("first" if req.url == "/1" else "second")
    st_ = serve(recording(answer))
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                 b"GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close\r\n" in data
    assert data.endswith(b"\r\n\r\nfirst"), data  # close-delimited: nothing may follow
    assert [e[1] for e in st_.events if e[0] == "request"] == ["/1"]


def test_app_marked_close_stops_the_pipeline(serve, fd_baseline):
    def answer(server, req, res):
        if req.url == "/last":
            res.set_header("Connection", "close")
        res.end(req.url)
    st_ = serve(recording(answer))
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed and count_heads(data) == 1 and data.endswith(b"/last")
    assert [e[1] for e in st_.events if e[0] == "request"] == ["/last"]


def test_late_close_response_drops_later_responses(serve, fd_baseline):
    """HTTP/1.1 requests are dispatched as they are parsed (Node's pipelining); when an
    earlier response turns out to be the last one, the later ones never reach the wire."""
    def answer(server, req, res):
        if req.url == "/slow":
            res.set_header("Connection", "close")
            server.loop.call_later(0.05, res.end, "slow")
        else:
            res.end("fast")
            st_ref[0].record("fast-ended")
    st_ref = []

    def setup(server, st_):
        st_ref.append(st_)
        recording(answer)(server, st_)
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed and count_heads(data) == 1 and data.endswith(b"slow"), data
    st_.wait_for(lambda e: e == ("fast-ended",))


# -- 4: bytes written before a hand-over or destroy go out first ----------------------------
def test_response_before_connect_in_the_same_read(serve, fd_baseline):
    def setup(server, st_):
        server.on("request", lambda req, res: res.end("hello"))

        def on_connect(req, sock, head):
            sock.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            sock.end(head)
        server.on("connect", on_connect)
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET + b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\nTUNNEL")
    data, closed = read_all(sock)
    sock.close()
    assert closed
    assert data.endswith(b"hello" + b"HTTP/1.1 200 Connection Established\r\n\r\nTUNNEL"), data
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_response_before_listened_upgrade_in_the_same_read(serve, fd_baseline):
    def setup(server, st_):
        server.on("request", lambda req, res: res.end("hello"))

        def on_upgrade(req, sock, head):
            sock.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
            sock.end(head)
        server.on("upgrade", on_upgrade)
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET + b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nFRAME")
    data, closed = read_all(sock)
    sock.close()
    assert closed
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"hello" in data
    assert data.endswith(b"hello" + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
                         b"Connection: Upgrade\r\n\r\nFRAME"), data


def test_response_survives_client_error_listener_destroy(serve, fd_baseline):
    def setup(server, st_):
        server.on("request", lambda req, res: res.end("hello"))
        server.on("clientError", lambda err, sock: sock.destroy())
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET + b"GARBAGE\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed and data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hello"), data


# -- 5: no socket outlives the peer's FIN without bound -----------------------------------------
BOUNDED = dict(headers_timeout=0.5, request_timeout=1.0, connections_checking_interval=0.1)


def test_fin_with_a_request_never_answered_is_closed(serve, fd_baseline):
    st_ = serve(recording(lambda server, req, res: None), **BOUNDED)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET)
    st_.wait_for(lambda e: e[0] == "request")
    sock.shutdown(socket.SHUT_WR)
    data, closed = read_all(sock, 6)
    sock.close()
    assert closed and data == b""


def test_late_answer_after_fin_still_goes_out(serve, fd_baseline):
    st_ = serve(recording(lambda server, req, res: server.loop.call_later(0.2, res.end, "late")), **BOUNDED)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET)
    sock.shutdown(socket.SHUT_WR)
    data, closed = read_all(sock, 6)
    sock.close()
    assert closed and data.endswith(b"late")


def test_fin_after_error_owned_by_a_noop_client_error_listener(serve, fd_baseline):
    def setup(server, st_):
        server.on("clientError", lambda err, sock: st_.record("clientError", err.code))
    st_ = serve(setup, **BOUNDED)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GARBAGE\r\n\r\n")
    st_.wait_for(lambda e: e[0] == "clientError")
    sock.shutdown(socket.SHUT_WR)
    data, closed = read_all(sock, 6)
    sock.close()
    assert closed and data == b""


def test_fin_after_a_noop_timeout_listener(serve, fd_baseline):
    def setup(server, st_):
        server.timeout = 0.2
        server.on("timeout", lambda sock: st_.record("timeout"))
        server.on("request", lambda req, res: None)
    st_ = serve(setup, **BOUNDED)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET)
    st_.wait_for(lambda e: e == ("timeout",))
    sock.shutdown(socket.SHUT_WR)
    data, closed = read_all(sock, 6)
    sock.close()
    assert closed and data == b""


# -- 6: no event after close ----------------------------------------------------------------------
def test_no_client_error_after_close_when_reset_with_a_response_pending(serve, fd_baseline):
    def setup(server, st_):
        def on_request(req, res):
            def later():
                res.end("late")
                st_.record("answered")
            server.loop.call_later(0.15, later)
        server.on("request", on_request)
        def on_client_error(err, sock):
            st_.record("clientError", err.code)
            if sock.writable:
                sock.end(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
            else:
                sock.destroy()
        server.on("clientError", on_client_error)
        server.on("connection", lambda sock: sock.on("close", lambda had_error: st_.record("close")))
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET)
    time.sleep(0.02)  # noqa: only lets the request arrive first; nothing below depends on it
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()  # RST
    st_.wait_for(lambda e: e == ("answered",))
    st_.wait_for(lambda e: e == ("close",))
    events = st_.call(lambda: list(st_.events))
    after_close = events[events.index(("close",)) + 1:]
    assert not [e for e in after_close if e[0] == "clientError"], events


# -- 7: a stalled 100-continue upload does not freeze a WSGI worker ---------------------------------
def test_stalled_continue_upload_does_not_block_other_clients(serve, fd_baseline):
    from prefork.wsgi.adapter import WSGIAdapter

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got %d" % len(body)]

    def setup(server, st_):
        WSGIAdapter(app).setup(server)
        server.on("clientError", lambda err, sock: (st_.record("clientError", err.code),
                                                    sock.end(b"HTTP/1.1 408 Request Timeout\r\n"
                                                             b"Connection: close\r\n\r\n")))
    st_ = serve(setup, **BOUNDED)
    fd_baseline(st_)
    stalled = connect(st_)
    stalled.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
    stalled.settimeout(5)
    assert stalled.recv(100).startswith(b"HTTP/1.1 100 Continue")
    stalled.sendall(b"abc")  # and then nothing more
    other = connect(st_)
    other.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, closed = read_all(other, 3)
    other.close()
    assert closed and data.endswith(b"got 0"), data
    data, closed = read_all(stalled, 6)
    stalled.close()
    assert closed and data.startswith(b"HTTP/1.1 408 Request Timeout"), data
    assert st_.call(lambda: [e for e in st_.events if e[0] == "clientError"]) == [
        ("clientError", "ERR_HTTP_REQUEST_TIMEOUT")]


def test_continue_upload_is_read_and_answered(serve, fd_baseline):
    from prefork.wsgi.adapter import WSGIAdapter

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got " + body]
    st_ = serve(lambda server, st_: WSGIAdapter(app).setup(server))
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                 b"Connection: close\r\n\r\n")
    sock.settimeout(5)
    assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    data, closed = read_all(sock)
    sock.close()
    assert closed and data.endswith(b"got hello")


# -- 13: the request's 'end' and a malformed request in the same read -------------------------------
def test_answer_on_end_goes_out_before_a_following_parse_error(serve, fd_baseline):
    """Chosen (docs/node-compat.md): 'end' of a bodiless request read by a listener fires
    while its read is processed, so a handler that answers on 'end' gets its response
    out before the malformed bytes that follow close the connection (Node sends only the
    400)."""
    def setup(server, st_):
        server.on("request", lambda req, res: req.resume().on("end", lambda: res.end("hello")))
    st_ = serve(setup)
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(GET + b"GARBAGE\r\n\r\n")
    data, closed = read_all(sock)
    sock.close()
    assert closed and data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"hello"), data


# -- 13: EMFILE is logged once per episode ---------------------------------------------------------
EMFILE_SERVER = r"""
import logging, resource, sys
sys.path.insert(0, sys.argv[1])
import prefork
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
server = prefork.create_server(lambda req, res: res.end("ok"))
server.listen(0)
print(server.address()["port"], flush=True)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
import os
used = len(os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (used + 4, hard))
server.loop.run_forever()
"""


def test_emfile_is_logged_once_per_episode(tmp_path):
    script = tmp_path / "emfile_server.py"
    script.write_text(EMFILE_SERVER)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    err_path = tmp_path / "err.log"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, str(script), root], stdout=subprocess.PIPE, stderr=err,
                                env=python_env())
    socks = []
    try:
        port = int(proc.stdout.readline())
        for _ in range(12):  # more than the limit allows: accepts fail with EMFILE
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        # the accept pause is 0.5 s: wait for several retry rounds of the same episode
        wait_until(lambda: "EMFILE" in err_path.read_text() or "Too many open files" in err_path.read_text(),
                   5, what="the EMFILE log line")
        # the episode goes on for several 0.5 s retry rounds: still one line
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:
            time.sleep(0.1)  # noqa: the bound is the episode's length; the count is read after it
        assert err_path.read_text().count("Too many open files") == 1, err_path.read_text()
        for s in socks:
            s.close()
        socks = []
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).endswith(b"ok")
        sock.close()
        log = err_path.read_text()
        assert "accepting connections again" in log, log
    finally:
        for s in socks:
            s.close()
        proc.kill()
        proc.wait(5)
        proc.stdout.close()


# -- 13: the client resolves names off the loop and reports failures as 'error' ----------------------
def test_client_unresolvable_host_emits_error(serve):
    st_ = serve(lambda server, st_: server.on("request", lambda req, res: res.end("hi")))

    def start():
        req = prefork.request({"host": "nonexistent.invalid", "port": 80, "path": "/"}, loop=st_.loop)
        req.on("error", lambda err: st_.record("error", err.code))
        req.end()
    st_.call(start)
    event = st_.wait_for(lambda e: e[0] == "error")
    assert event == ("error", "ENOTFOUND")


def test_client_resolves_localhost(serve):
    st_ = serve(lambda server, st_: server.on("request", lambda req, res: res.end("hi")))

    def start():
        def on_response(res):
            chunks = []
            res.on("data", chunks.append)
            res.on("end", lambda: st_.record("body", b"".join(chunks)))
        req = prefork.request({"host": "localhost", "port": st_.port, "path": "/"}, on_response, loop=st_.loop,
                              agent=False)
        req.on("error", lambda err: st_.record("error", err.code))
        req.end()
    st_.call(start)
    assert st_.wait_for(lambda e: e[0] in ("body", "error")) == ("body", b"hi")


# -- 10: HUP keeps idle keep-alive connections until their own timeout ------------------------------
def _response(sock):
    """One Content-Length response: (head, body); raises on a close or reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a body")
        body += chunk
    return head, body


def test_hup_answers_an_idle_keep_alive_connection(daemons):
    daemon = daemons("--keep-alive-timeout", "5", workers=1)
    daemon.wait_ready()
    old = daemon.serving_workers()
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    sock.sendall(GET)
    head, body = _response(sock)
    assert b"Connection: keep-alive" in head and body == f"pid {old[0]}".encode()
    daemon.signal(signal.SIGHUP)
    daemon.wait_workers(1, exclude=old)
    # the old worker is draining now; the kept-alive connection is still served by it
    sock.sendall(GET)
    head, body = _response(sock)
    assert body == f"pid {old[0]}".encode() and b"Connection: close" in head
    assert read_until_close(sock) == b""
    sock.close()


def test_hup_under_a_non_retrying_keep_alive_client(daemons):
    daemon = daemons("--keep-alive-timeout", "5", workers=2)
    daemon.wait_ready()
    old = daemon.serving_workers()
    results = {"ok": 0, "errors": [], "pids": set()}
    stop = threading.Event()

    def client():
        sock = None
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline and results["ok"] < 5000:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
                sock.sendall(GET)
                head, body = _response(sock)
                results["ok"] += 1
                results["pids"].add(body)
                if b"Connection: close" in head:
                    sock.close()
                    sock = None
            except OSError as exc:
                results["errors"].append(repr(exc))
                if sock is not None:
                    sock.close()
                sock = None
            time.sleep(0.01)  # noqa: the client's pace (about 100 requests a second)
        if sock is not None:
            sock.close()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_until(lambda: results["ok"] >= 30, 10, what="traffic before the HUP")
    daemon.signal(signal.SIGHUP)
    new = daemon.wait_workers(2, exclude=old, timeout=15)
    wait_until(lambda: any(f"pid {p}".encode() in results["pids"] for p in new), 10, what="answers from new workers")
    count = results["ok"]
    wait_until(lambda: results["ok"] >= count + 30, 10, what="traffic after the HUP")
    stop.set()
    for thread in threads:
        thread.join(10)
    assert results["errors"] == []


def test_resets_right_after_malformed_requests_leave_no_socket(serve, fd_baseline):
    """Clients that send a bad request (or a request and more) and reset at once: the
    canned reply's write fails, and the socket must still be closed."""
    st_ = serve(lambda server, st_: server.on("request", lambda req, res: res.end("x" * 70000)))
    fd_baseline(st_)
    payloads = [b"GARBAGE\r\n\r\n" * 50, GET * 20 + b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n" * 3000]
    for i in range(120):
        sock = connect(st_)
        try:
            sock.sendall(payloads[i % len(payloads)])
        except OSError:
            pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    probe = connect(st_)  # the server still answers
    probe.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, closed = read_all(probe)
    probe.close()
    assert closed and data.endswith(b"x" * 100)


# -- a queued pipelined response that was told to wait gets its 'drain' --------------------------------
def test_queued_pipelined_response_gets_drain_once_its_turn_comes(serve, fd_baseline):
    chunk, count = b"x" * (256 * 1024), 16

    def answer(server, req, res):
        if req.url == "/first":  # answered later: the second response waits in the queue meanwhile
            server.loop.call_later(0.1, res.end, "first")
            return
        res.set_header("Content-Length", str(len(chunk) * count))
        sent = [0]

        def pump():
            while sent[0] < count:
                sent[0] += 1
                if not res.write(chunk):
                    res.once("drain", pump)
                    return
            res.end()
        pump()
    st_ = serve(recording(answer))
    fd_baseline(st_)
    sock = connect(st_)
    sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data, closed = read_all(sock, timeout=10)
    sock.close()
    assert closed
    assert count_heads(data) == 2
    assert data.endswith(chunk)
    assert data.count(b"x") == len(chunk) * count
