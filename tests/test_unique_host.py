"""Two Host fields in one request: the event server serves it with the first, as Node's
does; with ``unique_host_header`` (which the WSGI and ASGI interfaces turn on, as
gunicorn refuses such a request) it is a parse error: ``clientError`` with
``ERR_HTTP_DUPLICATE_HOST``, unlistened the canned 400 and the close (RFC 9112 3.2: a
proxy routing on one Host and an app checking the other could disagree)."""

import asyncio
import socket

import pytest

from harness import read_until_close
from prefork.asgi import ASGIAdapter
from prefork.wsgi import WSGIAdapter

TWO = (b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Mid: 1\r\nhost: b.test\r\n\r\n",
       b"GET / HTTP/1.0\r\nHOST: a.test\r\nHost: a.test\r\n\r\n")
CANNED_400 = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
ONE = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["HTTP_HOST"].encode()]


async def asgi_app(scope, receive, send):
    host = dict(scope["headers"])[b"host"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": host})


def asgi_setup(server, st):
    st.adapter = ASGIAdapter(asgi_app, lifespan="off").setup(server)
    server.loop.run_until_complete(asyncio.sleep(0))


@pytest.mark.parametrize("interface", ["wsgi", "asgi"])
def test_the_app_interfaces_refuse_two_host_fields(serve, interface):
    setup = (lambda server, st: WSGIAdapter(wsgi_app).setup(server)) if interface == "wsgi" else asgi_setup
    st = serve(setup)
    for request in TWO:
        assert raw_exchange_port(st.port, request) == CANNED_400, request
    answer = raw_exchange_port(st.port, ONE)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\na.test"), answer


def test_the_event_server_serves_the_first_as_node_does(serve):
    def setup(server, st):
        server.on("request", lambda req, res: res.end(req.headers["host"] + " " + ",".join(req.raw_headers)))
    st = serve(setup)
    answer = raw_exchange_port(st.port, TWO[0].replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"a.test Host,a.test,X-Mid,1,host,b.test,Connection,close"), answer


def test_the_knob_makes_it_a_client_error(serve):
    def setup(server, st):
        server.unique_host_header = True
        server.on("request", lambda req, res: res.end("served"))
        server.on("clientError", lambda err, sock: (st.record("clientError", err.code, err.bytes_parsed),
                                                    sock.end(b"HTTP/1.1 400 Bad Request\r\n\r\n")))
    st = serve(setup)
    assert raw_exchange_port(st.port, TWO[0]) == b"HTTP/1.1 400 Bad Request\r\n\r\n"
    # (the offset: where the second Host field's line starts)
    assert st.wait_for(lambda e: e[0] == "clientError") == ("clientError", "ERR_HTTP_DUPLICATE_HOST",
                                                            TWO[0].index(b"host: b"))


def raw_exchange_port(port, request):
    """What the server sends back to ``request`` on a new connection, until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        return read_until_close(sock)
