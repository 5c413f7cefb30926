"""What a listener does to the request object (a router that percent-decodes ``req.url``,
a method override) cannot change how the connection is framed.

An Upgrade request nobody takes is served as a plain request, and the connection is
parsed on after it. The head parsed on was rebuilt from the request
object after the 'request' listeners ran, so a listener rewriting ``req.url`` (a
percent-decoding router) or ``req.method`` (a method override) changed the framing of
the rest of the connection: one request on the wire (as a proxy sees it) became two, a
decoded space lost the next request, a method made CONNECT raised inside the
connection. And the parser made for the rest lost the WSGI/ASGI rule that two Host
fields are a 400.
"""

import socket
from urllib.parse import unquote

from hostile import read_to_close, responses


def rewriting(server, st):
    """A listener that percent-decodes ``req.url`` and applies a method override, then
    answers with what it saw (and what it read of the body)."""
    def on_request(req, res):
        req.url = unquote(req.url)
        override = req.headers.get("x-http-method-override")
        if override:
            req.method = override
        body = []
        req.on("data", body.append)
        req.on("end", lambda: res.end(f"{req.method} {req.url} {b''.join(body).decode()}"))
        st.record("request", req.url)
    server.on("request", on_request)


def exchange(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        return read_to_close(sock)


def test_a_rewritten_url_cannot_smuggle_a_second_request(serve):
    st = serve(rewriting)
    injected = b"/x%20HTTP/1.1%0d%0aHost:%20a%0d%0a%0d%0aGET%20/smuggled%20HTTP/1.1%0d%0aX:"
    data = exchange(st.port, b"POST " + injected + b" HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                             b"Upgrade: foo\r\nContent-Length: 5\r\n\r\nhello")
    answers = responses(data)
    assert len(answers) == 1, data  # one request on the wire: one answer
    status, _, body = answers[0]
    assert status == 200 and body.startswith(b"POST /x HTTP/1.1") and body.endswith(b" hello"), data
    assert [e[1] for e in st.events if e[0] == "request"] == [unquote(injected.decode())], st.events


def test_a_decoded_space_in_the_url_loses_nothing(serve):
    st = serve(rewriting)
    data = exchange(st.port, b"GET /a%20b HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
                             b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [(status, body) for status, _, body in responses(data)] == \
        [(200, b"GET /a b "), (200, b"GET /next ")], data


def test_a_method_rewritten_to_connect_is_served_as_read(serve):
    st = serve(rewriting)
    data = exchange(st.port, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n"
                             b"X-HTTP-Method-Override: CONNECT\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [(status, body) for status, _, body in responses(data)] == \
        [(200, b"CONNECT / "), (200, b"GET /next ")], data


def test_two_host_fields_stay_refused_after_an_unlistened_upgrade(serve):
    def setup(server, st):
        server.unique_host_header = True  # as the WSGI and ASGI interfaces set it
        server.on("request", lambda req, res: res.end(req.headers.get("host", "")))
    st = serve(setup)
    with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n")
        first = b""
        while not first.endswith(b"\r\n\r\na"):
            chunk = sock.recv(4096)
            assert chunk, first
            first += chunk
        sock.sendall(b"GET /dup HTTP/1.1\r\nHost: good.example\r\nHost: evil.example\r\n\r\n")
        rest = read_to_close(sock)
    assert first.startswith(b"HTTP/1.1 200 OK"), first
    assert rest.startswith(b"HTTP/1.1 400 Bad Request") and b"good.example" not in rest, rest

