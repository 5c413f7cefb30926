"""ASGI HTTP edges on a real Server on loopback, read with raw sockets: what an app may
hand to ``send`` in the forms the spec allows."""

from harness import read_until_close
from test_asgi import asgi_server, raw

PAIRS = [(b"x-gen", b"1"), (b"content-type", b"text/x")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/generator"):  # the headers as a generator of pairs (tuples or lists)
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
