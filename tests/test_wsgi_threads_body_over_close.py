"""With threads, a request body over ``max_body_size`` closes the connection once the
call's answer is out. That answer's head said ``Connection: keep-alive`` when the app
caught ``BodyTooLarge`` (Flask and Django turn it into their own 500) or never read the
body: a client keeping the connection for its next request (``http.client``, a proxy's
pool) sent it into a closing socket and got no answer (``RemoteDisconnected``), a POST
lost. The head now says ``Connection: close`` as the ``threads = 1`` 413 does."""

import http.client
import socket

import pytest

from harness import read_until_close
from prefork.wsgi import WSGIAdapter

LIMIT = 1000


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path != "/ignore":
        try:
            environ["wsgi.input"].read()
        except Exception:  # noqa: BLE001 (BodyTooLarge: a framework catches it)
            if path == "/fail":
                raise RuntimeError("the app's error page failed too")
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            if path == "/stream":
                return iter([b"too ", b"large"])
            return [b"too large"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def st(serve):
    adapter = WSGIAdapter(app, threads=4, max_body_size=LIMIT)
    st_ = serve(lambda server, _st: adapter.setup(server))
    yield st_
    adapter.close()


CHUNKED = b"".join(b"%x\r\n%s\r\n" % (500, b"z" * 500) for _ in range(6)) + b"0\r\n\r\n"


@pytest.mark.parametrize("path, status", [(b"/catch", b"500"), (b"/stream", b"500"), (b"/ignore", b"200"),
                                          (b"/fail", b"500")])
def test_an_answer_to_a_body_over_the_limit_says_the_connection_closes(st, path, status):
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED
                     + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        got = read_until_close(sock)
    head = got.partition(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 " + status), got[:300]
    assert b"\r\nconnection: close" in head, got[:300]
    assert b"keep-alive" not in head, got[:300]
    assert got.count(b"HTTP/1.1 ") == 1  # (the request behind it is not answered: the connection closed)


def test_a_client_keeping_its_connection_sends_its_next_request_on_a_new_one(st):
    conn = http.client.HTTPConnection("127.0.0.1", st.port, timeout=5)
    try:
        conn.request("POST", "/catch", body=iter([b"z" * 600, b"z" * 600]), encode_chunked=True)
        response = conn.getresponse()
        assert (response.status, response.read()) == (500, b"too large")
        assert response.will_close
        conn.request("POST", "/catch", body=b"small")  # (http.client reconnects: the answer said close)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"ok")
    finally:
        conn.close()
