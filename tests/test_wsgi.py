"""The WSGI adapter on a real server on 127.0.0.1 (PEP 3333 checked by wsgiref.validate)."""

import http.client
import logging
import os
import socket
import time
from wsgiref.validate import validator

import pytest

from harness import read_until_close
from prefork.wsgi import WSGIAdapter


@pytest.fixture
def wsgi(serve, caplog):
    caplog.set_level(logging.ERROR, logger="prefork")

    def start(app, validate=True, **options):
        adapter = WSGIAdapter(validator(app) if validate else app, **options)
        return serve(lambda server, st_: adapter.setup(server))
    return start


def request(st_, method, path, body=None, headers=None, conn=None):
    conn = conn or http.client.HTTPConnection("127.0.0.1", st_.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return conn, response, response.read()


def dechunk(body):
    out = b""
    while True:
        size, _, rest = body.partition(b"\r\n")
        size = int(size, 16)
        if size == 0:
            return out
        out += rest[:size]
        body = rest[size + 2:]


def no_errors(caplog):
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors] + [str(r.exc_info) for r in errors]


# -- PEP 3333 conformance under wsgiref.validate ----------------------------------------------------
def small_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"small"]


def large_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [b"x" * (1024 * 1024), b"y" * 12345]


def generator_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    for i in range(5):
        yield b"part %d\n" % i


def write_app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"then returned"]


def exc_info_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("boom before the body")
    except ValueError:
        import sys
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced"]


def empty_app(environ, start_response):
    start_response("204 No Content", [])
    return []


def echo_app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Length", str(len(body)))])
    return [body]


@pytest.mark.parametrize("app,expect", [
    (small_app, b"small"), (large_app, b"x" * (1024 * 1024) + b"y" * 12345),
    (generator_app, b"".join(b"part %d\n" % i for i in range(5))), (write_app, b"written then returned"),
], ids=["small", "large", "generator", "write"])
def test_validated_responses(wsgi, caplog, app, expect):
    st_ = wsgi(app)
    _, response, body = request(st_, "GET", "/")
    assert response.status == 200 and body == expect
    no_errors(caplog)


def test_validated_exc_info_replaces_the_status(wsgi, caplog):
    st_ = wsgi(exc_info_app)
    _, response, body = request(st_, "GET", "/")
    assert response.status == 500 and body == b"replaced"
    no_errors(caplog)


def test_validated_head_and_empty_bodies(wsgi, caplog):
    st_ = wsgi(small_app)
    conn, response, body = request(st_, "HEAD", "/")
    assert response.status == 200 and body == b""
    plain = wsgi(small_app, validate=False)  # a bare list: its length is known, as for GET
    conn, response, body = request(plain, "HEAD", "/")
    assert response.status == 200 and body == b"" and response.getheader("Content-Length") == "5"
    st2 = wsgi(empty_app)
    _, response, body = request(st2, "GET", "/")
    assert response.status == 204 and body == b""
    no_errors(caplog)


def test_validated_chunked_request_body(wsgi, caplog):
    st_ = wsgi(echo_app)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    sock.sendall(b"4\r\ndefg\r\n0\r\n\r\n")
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    assert b"X-Length: 7\r\n" in data and data.endswith(b"\r\n\r\n7\r\nabcdefg\r\n0\r\n\r\n")
    sock.close()
    no_errors(caplog)


def test_validated_100_continue_then_the_app_gets_the_body(wsgi, caplog):
    """The 100 goes out at dispatch; the loop reads the body; the app runs with it."""
    reads = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read(5)
        reads.append(body)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"got " + body]
    st_ = wsgi(app)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    sock.sendall(b"hello")
    data = b""
    while b"got hello" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert reads == [b"hello"]
    sock.close()
    no_errors(caplog)


def test_100_continue_not_sent_for_a_body_over_the_limit(wsgi, caplog):
    calls = []

    def app(environ, start_response):
        calls.append(1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"no"]
    st_ = wsgi(app, max_body_size=4)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    data = read_until_close(sock)
    assert data.startswith(b"HTTP/1.1 413 Payload Too Large\r\n") and b"100 Continue" not in data
    assert calls == []
    sock.close()


# -- environ ---------------------------------------------------------------------------------------------
def environ_app(environ, start_response):
    keys = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
            "SERVER_PROTOCOL", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X_MULTI", "HTTP_COOKIE",
            "wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess")
    body = repr({k: environ.get(k) for k in keys}).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


def test_environ(wsgi, caplog):
    st_ = wsgi(environ_app, root_path="/app/")
    _, response, body = request(st_, "POST", "/app/a%20b/c?q=1&r=%20", body=b"xy",
                                headers={"Content-Type": "text/plain", "X-Multi": "1", "Cookie": "a=1",
                                         "Host": "example.test:8080"})
    env = eval(body)
    assert env["REQUEST_METHOD"] == "POST" and env["SCRIPT_NAME"] == "/app" and env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "q=1&r=%20"
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["SERVER_PROTOCOL"]) == ("example.test", "8080", "HTTP/1.1")
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "2"
    assert (env["wsgi.url_scheme"], env["wsgi.multithread"], env["wsgi.multiprocess"]) == ("http", False, True)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"GET /app/x HTTP/1.1\r\nHost: h\r\nX-Multi: 1\r\nX-Multi: 2\r\nCookie: a=1\r\nCookie: b=2\r\n"
                 b"Connection: close\r\n\r\n")
    data = read_until_close(sock)
    env = eval(dechunk(data.split(b"\r\n\r\n", 1)[1]))
    assert env["HTTP_X_MULTI"] == "1, 2" and env["HTTP_COOKIE"] == "a=1; b=2"
    no_errors(caplog)


@pytest.mark.parametrize("allowed,expect", [
    (["127.0.0.1"], ("203.0.113.7", "https")),
    (["10.0.0.1"], ("127.0.0.1", "http")),
])
def test_forwarded_headers_only_from_allowed_peers(wsgi, allowed, expect):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()]
    st_ = wsgi(app, forwarded_allow_ips=allowed)
    _, _, body = request(st_, "GET", "/", headers={"X-Forwarded-For": "203.0.113.7",  # one proxy's
                                                   "X-Forwarded-Proto": "https"})
    assert tuple(body.decode().split()) == expect
    # RFC 7239's Forwarded is not read, from any peer (as gunicorn and uvicorn)
    _, _, body = request(st_, "GET", "/", headers={"Forwarded": 'for="203.0.113.7:4711";proto=https'})
    assert tuple(body.decode().split()) == ("127.0.0.1", "http")


# -- bodies -------------------------------------------------------------------------------------------------
def test_large_bodies_spool_to_a_file_and_the_limit_gives_413(wsgi):
    seen = []

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        seen.append(getattr(stream._body, "_rolled", None))
        data = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(data)).encode()]
    st_ = wsgi(app, validate=False, body_spool=1000, max_body_size=50_000)
    _, response, body = request(st_, "POST", "/", body=b"a" * 500)
    assert body == b"500" and seen[-1] is False
    _, response, body = request(st_, "POST", "/", body=b"a" * 20_000)
    assert body == b"20000" and seen[-1] is True
    calls = len(seen)
    _, response, body = request(st_, "POST", "/", body=b"a" * 60_000)
    assert response.status == 413 and len(seen) == calls  # the app was not called
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for _ in range(8):
            sock.sendall(b"2710\r\n" + b"b" * 10000 + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 413 ") and len(seen) == calls
    sock.close()


def test_app_exception_gives_500_and_the_connection_goes_on(wsgi, caplog):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("the app broke")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]
    st_ = wsgi(app, validate=False)
    conn, response, body = request(st_, "GET", "/boom")
    assert response.status == 500 and body == b"Internal Server Error\n"
    _, response, body = request(st_, "GET", "/next", conn=conn)  # same connection
    assert response.status == 200 and body == b"fine"
    assert any("the app broke" in str(r.exc_info) for r in caplog.records)


def test_iterable_close_is_called_and_backpressure_pauses_iteration(wsgi):
    produced = []
    closed = []

    class Body:
        def __iter__(self):
            for i in range(200):
                produced.append(i)
                yield b"z" * 65536

        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Body()
    st_ = wsgi(app, validate=False)
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # noqa: nothing is read meanwhile; the producer must stop well short of 200
    assert len(produced) < 150
    total = 0
    while total < 200 * 65536:
        chunk = sock.recv(1 << 20)
        assert chunk
        total += len(chunk)
        if chunk.endswith(b"0\r\n\r\n"):
            break
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed == [True] and len(produced) == 200
    sock.close()


def test_file_wrapper_uses_sendfile(wsgi, tmp_path, monkeypatch):
    path = tmp_path / "data.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(payload)
    calls = []
    real = os.sendfile

    def counting(*args):
        calls.append(args[3])
        return real(*args)
    monkeypatch.setattr(os, "sendfile", counting)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"))
    st_ = wsgi(app, validate=False)
    _, response, body = request(st_, "GET", "/")
    assert response.status == 200 and body == payload
    assert response.getheader("Content-Length") == str(len(payload))
    assert calls  # the body went out through sendfile
    _, response, body = request(st_, "HEAD", "/")
    assert body == b"" and response.getheader("Content-Length") == str(len(payload))
