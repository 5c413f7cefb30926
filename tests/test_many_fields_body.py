"""A request with more fields than ``max_headers_count`` keeps in ``req.headers``
(Node's cap: 1000 by default) whose Content-Length or Transfer-Encoding comes after the
cut: the app interfaces frame the body by every field (``req.all_headers``), so a WSGI
app (both thread modes) and an ASGI app get the body. They used to decide from the cut
map that none followed: an empty body, the bytes read and thrown away. The event API's
``req.headers`` stays cut, as Node's."""

import pytest

from hostile import dechunked, exchange
from prefork.asgi import ASGIAdapter
from prefork.wsgi import WSGIAdapter

PADDING = b"".join(b"X-P%d: v\r\n" % i for i in range(1005))
REQUESTS = {
    "length": b"POST /echo HTTP/1.1\r\nHost: a\r\n" + PADDING + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
    "chunked": b"POST /echo HTTP/1.1\r\nHost: a\r\n" + PADDING
               + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
}


def wsgi_app(environ, start_response):
    data = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"%s|%s" % (data, (environ.get("CONTENT_LENGTH") or "-").encode())]


async def asgi_app(scope, receive, send):
    data = b""
    while True:
        message = await receive()
        data += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"%s|%d" % (data, len(scope["headers"]))})


def body(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data[:300]
    return dechunked(rest) if b"chunked" in head.lower() else rest


@pytest.mark.parametrize("kind", sorted(REQUESTS))
@pytest.mark.parametrize("threads", [1, 4])
def test_wsgi_gets_the_body_framed_past_the_cut(serve, kind, threads):
    adapter = WSGIAdapter(wsgi_app, threads=threads)
    st = serve(lambda server, _st: adapter.setup(server))
    try:
        got = body(exchange(st.port, REQUESTS[kind]))
        assert got.partition(b"|")[0] == b"hello"
        if kind == "length":
            assert got == b"hello|5"  # Django reads CONTENT_LENGTH only
    finally:
        adapter.close()


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_asgi_gets_the_body_framed_past_the_cut(serve, kind):
    st = serve(lambda server, st_: setattr(st_, "adapter", ASGIAdapter(asgi_app, lifespan="off").setup(server)))
    assert body(exchange(st.port, REQUESTS[kind])) == b"hello|1008"  # the scope: raw_headers (Node keeps 1023)


def test_the_event_apis_headers_stay_cut(serve):
    def setup(server, st):
        server.on("request", lambda req, res: res.end(b"%d %d" % (len(req.headers), len(req.all_headers))))
    st = serve(setup)
    assert exchange(st.port, REQUESTS["length"]).endswith(b"1000 1008")
