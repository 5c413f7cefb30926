"""Forwarding headers behind a balancer that also sends a PROXY header: whether
``X-Forwarded-Proto``/``-For`` are trusted is judged by the TCP peer (the balancer), as
gunicorn and nginx's realip judge it, not by the client address the PROXY header named.
A TLS-terminating HAProxy sending both gave its apps ``http`` (the client was judged);
a client whose own address was trusted had its own headers believed. Real loopback
sockets: the test is the balancer (127.0.0.1) and writes the PROXY header itself.
Also: a PROXY header's source port 0 is REMOTE_PORT "0" (it was "")."""

import socket

import pytest

from conftest import ServerThread
from prefork.asgi import ASGIAdapter
from prefork.wsgi import WSGIAdapter
from test_proxy_protocol import ask


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s %s" % (environ["wsgi.url_scheme"], environ["REMOTE_ADDR"], environ["REMOTE_PORT"])).encode()]


async def asgi_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": ("%s %s %s" % (scope["scheme"], *scope["client"])).encode()})


def run(kind, forwarded_allow_ips, header, request):
    adapter = (WSGIAdapter(wsgi_app, forwarded_allow_ips=forwarded_allow_ips) if kind == "wsgi"
               else ASGIAdapter(asgi_app, lifespan="off", forwarded_allow_ips=forwarded_allow_ips))
    st = ServerThread(lambda server, _st: adapter.setup(server), proxy_allow_ips=("127.0.0.1",))
    try:
        sock = socket.create_server(("127.0.0.1", 0))
        st.call(lambda: st.server.listen(sock=sock, proxy_protocol=True))
        response = ask(sock.getsockname()[1], header + request)
        assert response.startswith(b"HTTP/1.1 200 OK"), response
        return response.partition(b"\r\n\r\n")[2]
    finally:
        st.stop()
        if kind == "wsgi":
            adapter.close()


HTTPS = b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.5\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_trusted_balancer_forwards_the_scheme_for_a_client_it_names(kind):
    body = run(kind, ("127.0.0.1",), b"PROXY TCP4 203.0.113.5 192.0.2.9 40000 443\r\n", HTTPS)
    # (the ASGI client from X-Forwarded-For has port 0, as uvicorn gives it)
    assert body == (b"https 203.0.113.5 40000" if kind == "wsgi" else b"https 203.0.113.5 0")


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_trusted_client_address_behind_an_untrusted_balancer_is_not_believed(kind):
    body = run(kind, ("203.0.113.5",), b"PROXY TCP4 203.0.113.5 192.0.2.9 40000 443\r\n",
               HTTPS.replace(b"203.0.113.5", b"6.6.6.6"))
    assert body == b"http 203.0.113.5 40000"


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_source_port_0_is_port_0(kind):
    body = run(kind, (), b"PROXY TCP4 203.0.113.5 192.0.2.9 0 443\r\n",
               b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert body == b"http 203.0.113.5 0"
