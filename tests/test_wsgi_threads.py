"""Threaded WSGI (threads > 1): the app on a thread pool, the sockets on the loop.

In-process servers on 127.0.0.1 for what needs to look inside the app; real daemons for
concurrency, memory and the timeout log."""

import hashlib
import http.client
import logging
import os
import re
import signal
import socket
import struct
import threading
import time
from wsgiref.validate import validator

import pytest

from daemon import wait_until
from harness import read_until_close
from prefork.settings import ConfigError, load
from prefork.wsgi import WSGIAdapter
from test_wsgi import (dechunk, echo_app, exc_info_app, generator_app, large_app, no_errors, request,
                       small_app, write_app)

BLOCK = b"z" * 65536


@pytest.fixture
def threaded(serve, caplog):
    caplog.set_level(logging.ERROR, logger="prefork")
    adapters = []

    def start(app, threads=4, validate=False, **options):
        adapter = WSGIAdapter(validator(app) if validate else app, threads=threads, **options)
        adapters.append(adapter)
        return serve(lambda server, st_: adapter.setup(server))
    yield start
    for adapter in adapters:
        adapter.close()


def reset(sock):
    """Close with an RST, as a client that crashed would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- PEP 3333 through wsgiref.validate, on threads --------------------------------------------------------
@pytest.mark.parametrize("app,expect", [
    (small_app, b"small"), (large_app, b"x" * (1024 * 1024) + b"y" * 12345),
    (generator_app, b"".join(b"part %d\n" % i for i in range(5))), (write_app, b"written then returned"),
], ids=["small", "large", "generator", "write"])
def test_validated_responses_on_threads(threaded, caplog, app, expect):
    st_ = threaded(app, validate=True)
    conn, response, body = request(st_, "GET", "/")
    assert response.status == 200 and body == expect
    _, response, body = request(st_, "HEAD", "/", conn=conn)
    assert response.status == 200 and body == b""
    no_errors(caplog)


def test_validated_exc_info_and_bodies_on_threads(threaded, caplog):
    st_ = threaded(exc_info_app, validate=True)
    _, response, body = request(st_, "GET", "/")
    assert response.status == 500 and body == b"replaced"
    echo = threaded(echo_app, validate=True)
    _, response, body = request(echo, "POST", "/", body=b"a" * 300_000)
    assert response.status == 200 and body == b"a" * 300_000
    sock = socket.create_connection(("127.0.0.1", echo.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"X-Length: 5\r\n" in data
    assert dechunk(data.split(b"\r\n\r\n", 1)[1]) == b"hello"
    sock.close()
    no_errors(caplog)


# -- where the app runs --------------------------------------------------------------------------------------
def where_app(environ, start_response):
    body = f"{threading.current_thread().name} {environ['wsgi.multithread']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def test_multithread_flag_and_the_thread_the_app_runs_on(threaded):
    st_ = threaded(where_app, threads=4)
    _, _, body = request(st_, "GET", "/")
    name, flag = body.decode().split()
    assert name.startswith("wsgi-") and flag == "True"
    one = threaded(where_app, threads=1)  # one call at a time, on the loop, as before
    _, _, body = request(one, "GET", "/")
    assert body.decode() == f"{one.thread.name} False"


def test_pipelined_requests_on_one_connection_are_answered_in_order(threaded):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            time.sleep(0.3)  # the app's own work; the fast request behind it must wait for it
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]
    st_ = threaded(app, threads=4)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = read_until_close(sock)
    assert [m.group(1) for m in re.finditer(rb"\r\n\r\n(/[a-z]+)", data)] == [b"/slow", b"/fast", b"/last"]
    sock.close()


# -- the request body, streamed to the thread ----------------------------------------------------------------
def test_the_body_streams_to_the_thread_before_it_ends(threaded):
    pieces = []

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        pieces.append(stream.read(5))  # returns while the client still holds the rest
        pieces.append(stream.readline())
        pieces.append(stream.read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"|".join(pieces)]
    st_ = threaded(app)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    # (a call goes to a thread once 256 KiB of its body are in: the rest streams to it)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (18 + 256 * 1024)
                 + b"first" + b"p" * 256 * 1024)
    wait_until(lambda: pieces, 10, what="the app's first read")
    sock.sendall(b"line\nthe rest")
    data = b""
    while not data.endswith(b"first|" + b"p" * 256 * 1024 + b"line\n|the rest"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    sock.close()


def test_a_big_body_is_read_through_the_thread_with_bounded_buffering(threaded):
    held = []

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        time.sleep(0.3)  # the app is busy before it reads: the client must be held back meanwhile
        sha = hashlib.sha256()
        while True:
            held.append(stream.size)
            block = stream.read(65536)
            if not block:
                break
            sha.update(block)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [sha.hexdigest().encode()]
    st_ = threaded(app)
    payload = os.urandom(1 << 20) * 24
    _, response, body = request(st_, "POST", "/", body=payload)
    assert response.status == 200 and body == hashlib.sha256(payload).hexdigest().encode()
    assert max(held) <= 256 * 1024 + 2 * 65536, max(held)  # the pipe's high-water mark, not the body


def test_a_chunked_body_over_the_limit_gets_413_on_threads(threaded):
    calls = []

    def app(environ, start_response):
        calls.append(1)
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"read it all"]
    st_ = threaded(app, max_body_size=50_000)
    _, response, _ = request(st_, "POST", "/", body=b"a" * 60_000)
    assert response.status == 413 and calls == []  # declared: refused before the app
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(8):
            sock.sendall(b"2710\r\n" + b"b" * 10000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = read_until_close(sock)
    assert data.startswith(b"HTTP/1.1 413 ") and calls == [1]
    sock.close()


# -- the response, with backpressure ----------------------------------------------------------------------
def test_a_slow_reader_holds_the_iterable_back(threaded):
    produced = []
    closed = []

    class Body:
        def __iter__(self):
            for i in range(1024):  # 64 MiB
                produced.append(i)
                yield BLOCK

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Body()
    st_ = threaded(app)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    received = 0
    worst = 0
    while True:
        chunk = sock.recv(65536)
        assert chunk
        received += len(chunk)
        worst = max(worst, len(produced) * len(BLOCK) - received)
        if chunk.endswith(b"0\r\n\r\n") and len(produced) == 1024:
            break
    # ahead of the reader by at most the kernel's buffers, the socket's and the thread's
    # hand-over limits: never the whole 64 MiB
    assert worst < 12 * 1024 * 1024, worst
    wait_until(lambda: closed, 10, what="close()")
    sock.close()


def test_a_client_gone_mid_response_stops_the_thread_and_closes_the_iterable(threaded, caplog):
    produced = []
    events = []
    raised = []

    def generator():
        try:
            for i in range(100_000):
                produced.append(i)
                yield BLOCK
        except GeneratorExit:
            events.append("GeneratorExit")
            raise

    def gen_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return generator()

    def write_app_(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "application/octet-stream")])
        try:
            for _ in range(100_000):
                write(BLOCK)
        except OSError as exc:
            raised.append(type(exc).__name__)
            raise
        return []

    for app in (gen_app, write_app_):
        st_ = threaded(app)
        sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 256 * 1024:
            got += len(sock.recv(65536))
        reset(sock)
    wait_until(lambda: events == ["GeneratorExit"] and raised == ["ClientDisconnected"], 10,
               what="the generator closed and write() raising")
    assert len(produced) < 100_000


def test_app_exceptions_on_threads(threaded, caplog):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("the threaded app broke")
        start_response("200 OK", [("Content-Type", "text/plain")])
        if environ["PATH_INFO"] == "/late":
            return late()
        return [b"fine"]

    def late():
        yield b"first part"
        raise RuntimeError("broke after the head")
    st_ = threaded(app)
    conn, response, body = request(st_, "GET", "/boom")
    assert response.status == 500 and body == b"Internal Server Error\n"
    _, response, body = request(st_, "GET", "/next", conn=conn)  # same connection, served on
    assert response.status == 200 and body == b"fine"
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
    data = read_until_close(sock)  # the head was out: the connection closes, no last chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"first part" in data and not data.endswith(b"0\r\n\r\n")
    sock.close()
    messages = [str(r.exc_info) for r in caplog.records]
    assert any("the threaded app broke" in m for m in messages)
    assert any("broke after the head" in m for m in messages)


def test_threads_setting_is_checked():
    assert load(env={}, argv_values={"threads": 8}).threads == 8
    assert load(env={}).threads == 1
    with pytest.raises(ConfigError) as info:
        load(env={}, argv_values={"threads": 0})
    assert "threads" in str(info.value)


# -- real daemons ------------------------------------------------------------------------------------------
def get(port, path, results, index):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        results[index] = (response.status, response.read().decode())
    finally:
        conn.close()


def concurrent(port, path, count):
    results = [None] * count
    clients = [threading.Thread(target=get, args=(port, path, results, i)) for i in range(count)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join(60)
    return results, time.monotonic() - started


def test_a_200_ms_view_on_8_threads_answers_16_clients_at_once(daemons):
    d = daemons("--interface", "wsgi", "--threads", "8", app="apps.wsgi_apps:slow", workers=1)
    d.wait_ready()
    results, _ = concurrent(d.port, "/barrier", 8)  # 8 calls that only finish together
    assert all(r is not None and r[0] == 200 for r in results), results
    assert all(r[1].endswith("True") for r in results)  # wsgi.multithread
    results, elapsed = concurrent(d.port, "/", 16)
    assert all(r is not None and r[0] == 200 for r in results), results
    assert elapsed < 16 * 0.2 / 2, elapsed  # one at a time would take 3.2 s; 8 at a time, 0.4 s


def test_a_big_upload_and_a_big_download_through_threads_keep_the_worker_small(daemons):
    d = daemons("--interface", "wsgi", "--threads", "4", app="apps.wsgi_apps:digest", workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    payload = os.urandom(1 << 20) * 100
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    conn.request("POST", "/?0.5", body=payload)  # the app reads only after 0.5 s
    response = conn.getresponse()
    assert response.read().decode() == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"
    conn.close()
    with open(f"/proc/{worker}/status") as fh:
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1)) * 1024
    assert peak < 60 * 1024 * 1024, peak

    big = daemons("--interface", "wsgi", "--threads", "4", app="apps.wsgi_apps:big", workers=1)
    big.wait_ready()
    (worker,) = big.wait_workers(1)
    conn = http.client.HTTPConnection("127.0.0.1", big.port, timeout=60)
    conn.request("GET", "/")
    response = conn.getresponse()
    total = 0
    while True:
        chunk = response.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    assert total == 200 * 1024 * 1024
    with open(f"/proc/{worker}/status") as fh:
        peak = int(re.search(r"VmHWM:\s+(\d+) kB", fh.read()).group(1)) * 1024
    assert peak < 60 * 1024 * 1024, peak
    conn.close()


def test_a_call_past_the_timeout_is_logged_with_its_stack_and_the_worker_lives(daemons):
    d = daemons("--interface", "wsgi", "--threads", "2", "--timeout", "2", app="apps.wsgi_apps:sleepy",
                workers=1)
    d.wait_ready()
    (worker,) = d.wait_workers(1)
    results = [None]
    get(d.port, "/?3", results, 0)
    assert results[0] == (200, "awake")
    d.wait_log(r"WSGI call GET /\?3 has run for")
    log = d.log()
    assert re.search(r'File ".*wsgi_apps\.py", line \d+, in sleepy', log), log
    assert d.workers() == [worker] and "SIGABRT" not in log  # the loop kept beating


def test_a_worker_with_calls_waiting_for_a_thread_sends_clients_elsewhere(serve):
    """Calls have waited for a thread over 50 ms: a finished response says Connection: close
    (unless a request waits behind it on its connection), so the client's next connection
    may go to a worker with a free thread."""
    started = []
    release = threading.Event()

    def app(environ, start_response):
        started.append(environ["PATH_INFO"])
        release.wait(20)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    adapter = WSGIAdapter(app, threads=2)
    st_ = serve(lambda server, _: adapter.setup(server))
    try:
        socks = [socket.create_connection(("127.0.0.1", st_.port), timeout=10) for _ in range(3)]
        for i, sock in enumerate(socks[:2]):
            sock.sendall(f"GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wait_until(lambda: len(started) == 2, 10, what="both threads busy")
        socks[2].sendall(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: adapter.pool.oldest_wait() > 0.05, 10, what="a call waiting for a thread a while")
        release.set()
        heads = {}
        for i, sock in enumerate(socks):
            data = b""
            while not data.endswith(b"\r\n\r\nok"):
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
            heads[i] = data
            sock.close()
        # the first of the two to finish saw (or let in) a call that had waited
        assert b"Connection: close\r\n" in heads[0] or b"Connection: close\r\n" in heads[1]
        # no wait any more: connections are kept alive again
        conn, response, body = request(st_, "GET", "/again")
        assert body == b"ok" and response.getheader("Connection") == "keep-alive"
    finally:
        adapter.close()


@pytest.mark.parametrize("threads", [1, 4])
def test_an_invalid_header_from_the_app_gives_500_and_the_connection_goes_on(serve, caplog, threads):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/bad":
            start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
        else:
            start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"body"]
    adapter = WSGIAdapter(app, threads=threads)
    st_ = serve(lambda server, _: adapter.setup(server))
    try:
        conn, response, body = request(st_, "GET", "/bad")
        assert response.status == 500 and body == b"Internal Server Error\n"
        assert response.getheader("Injected") is None
        _, response, body = request(st_, "GET", "/good", conn=conn)
        assert response.status == 200 and body == b"body"
    finally:
        adapter.close()


def test_a_client_gone_mid_upload_makes_the_threads_read_raise(threaded):
    raised = []
    entered = []

    def app(environ, start_response):
        entered.append(True)
        try:
            environ["wsgi.input"].read(1_000_000)
        except OSError as exc:
            raised.append(type(exc).__name__)
            raise
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"unreachable"]
    st_ = threaded(app)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"p" * 300_000)
    wait_until(lambda: entered, 10, what="the call to run")  # (a call whose client left before is not run)
    reset(sock)
    wait_until(lambda: raised, 10, what="the read to raise")
    assert raised == ["ClientDisconnected"]


def test_file_wrapper_on_threads(threaded, tmp_path):
    path = tmp_path / "data.bin"
    payload = os.urandom(300_000)
    path.write_bytes(payload)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 65536)
    st_ = threaded(app)
    _, response, body = request(st_, "GET", "/")
    assert response.status == 200 and body == payload


def test_a_graceful_stop_lets_a_threaded_call_finish(daemons):
    d = daemons("--interface", "wsgi", "--threads", "2", app="apps.wsgi_apps:sleepy", workers=1)
    d.wait_ready()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request("GET", "/?1")
    d.wait_log(r"sleepy: 1 s")  # the call runs on its thread
    d.signal(signal.SIGTERM)
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b"awake"
    assert response.getheader("Connection") == "close"
    assert d.wait_exit(30) == 0


def test_system_exit_in_an_app_thread_gives_500_and_the_pool_serves_on(threaded, caplog):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/exit":
            raise SystemExit(1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"still here"]
    st_ = threaded(app, threads=2)
    conn = None
    for _ in range(3):  # more than there are threads
        conn, response, body = request(st_, "GET", "/exit", conn=conn)
        assert response.status == 500
    _, response, body = request(st_, "GET", "/ok", conn=conn)
    assert response.status == 200 and body == b"still here"


@pytest.mark.parametrize("threads", [1, 4])
def test_repeated_headers_and_the_apps_content_length(serve, threads):
    def app(environ, start_response):
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Content-Length", "2"), ("Set-Cookie", "b=2"),
                                  ("Keep-Alive", "timeout=99")])
        return [b"ok"]
    adapter = WSGIAdapter(app, threads=threads)
    st_ = serve(lambda server, _: adapter.setup(server))
    try:
        for method in ("GET", "HEAD"):
            sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
            sock.sendall(f"{method} / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
            sock.close()
            lines = head.split(b"\r\n")
            assert [line for line in lines if line.startswith(b"Set-Cookie")] == [b"Set-Cookie: a=1",
                                                                              b"Set-Cookie: b=2"]
            assert [line for line in lines if line.lower().startswith(b"content-length")] == [b"Content-Length: 2"]
            assert b"timeout=99" not in head  # hop-by-hop from the app: dropped
            assert body == (b"ok" if method == "GET" else b"")
    finally:
        adapter.close()
