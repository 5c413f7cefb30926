"""ASGI HTTP edges on a real Server on loopback, read with raw sockets: what an app may
hand to ``send`` in the forms the spec allows, and response heads a client can parse."""

from harness import read_until_close
from test_asgi import asgi_server, raw

PAIRS = [(b"x-gen", b"1"), (b"content-type", b"text/x")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/both"):  # a Content-Length beside a Transfer-Encoding
        headers = [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")]
        if "/gzip" in path:
            headers[1] = (b"transfer-encoding", b"gzip")
    elif path.startswith("/trailer"):  # a Trailer field, with no trailers extension to send them
        headers = [(b"content-length", b"5"), (b"trailer", b"x-t")]
    elif path.startswith("/generator"):  # the headers as a generator of pairs (tuples or lists)
        kind = tuple if "tuples" in path else list
        headers = (kind(pair) for pair in PAIRS)
    else:
        headers = iter(PAIRS)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if path.endswith("/stream"):
        await send({"type": "http.response.body", "body": b"str", "more_body": True})
        await send({"type": "http.response.body", "body": b"eamed"})
    else:
        await send({"type": "http.response.body", "body": b"whole"})


def get(port, path):
    sock = raw(port, b"GET " + path + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    try:
        return read_until_close(sock)
    finally:
        sock.close()


def test_headers_given_as_any_iterable_are_all_sent(serve):
    st = asgi_server(serve, app)
    for path in (b"/generator/tuples", b"/generator/lists", b"/iterator"):
        for how, body in ((b"", b"\r\n\r\nwhole"), (b"/stream", b"\r\n\r\n3\r\nstr\r\n5\r\neamed\r\n0\r\n\r\n")):
            for _ in range(2):  # the second time from the adapter's kept header blocks
                response = get(st.port, path + how)
                head = response.partition(b"\r\n\r\n")[0].split(b"\r\n")
                assert head[0] == b"HTTP/1.1 200 OK", response
                assert b"x-gen: 1" in head and b"content-type: text/x" in head, response
                assert response.endswith(body), response


def test_a_content_length_beside_a_transfer_encoding_is_not_sent(serve):
    # RFC 9112 6.1: a sender must not send both (Node's client refuses such a response)
    st = asgi_server(serve, app)
    for path, body in ((b"/both", b"5\r\nwhole\r\n0\r\n\r\n"), (b"/both/stream", b"3\r\nstr\r\n5\r\neamed\r\n0\r\n\r\n"),
                       (b"/both/gzip", b"whole"), (b"/both/gzip/stream", b"streamed")):
        response = get(st.port, path)
        head, _, received = response.partition(b"\r\n\r\n")
        lines = [line.lower() for line in head.split(b"\r\n")]
        assert lines[0] == b"http/1.1 200 ok", response
        assert not any(line.startswith(b"content-length:") for line in lines), response
        assert b"transfer-encoding: " + (b"gzip" if b"gzip" in path else b"chunked") in lines, response
        assert received == body, response


def test_a_trailer_field_is_dropped_and_the_length_frames_the_body(serve):
    """No trailers follow (the extension is not offered): the field announcing them is
    dropped, and the body keeps its length, for HEAD too (the events API's Node rule,
    chunked or refused, would make that a 500)."""
    st = asgi_server(serve, app)
    for method, body in ((b"GET", b"whole"), (b"HEAD", b"")):
        sock = raw(st.port, method + b" /trailer HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        try:
            response = read_until_close(sock)
        finally:
            sock.close()
        head, _, received = response.partition(b"\r\n\r\n")
        lines = [line.lower() for line in head.split(b"\r\n")]
        assert lines[0] == b"http/1.1 200 ok" and b"content-length: 5" in lines, response
        assert not any(line.startswith((b"trailer", b"transfer-encoding")) for line in lines), response
        assert received == body
