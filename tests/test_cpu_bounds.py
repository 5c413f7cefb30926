"""Work that grew far past the input's size, found by measuring a worker's CPU against
hostile and unusual inputs; each bound here is a count (calls, copies), not a time."""

import hashlib
import socket
import ssl

from harness import read_until_close
from prefork.http.parser import RequestParser
from test_hostile_net_tls import client_context, pki  # noqa: F401  (pki: a fixture)


class Recorder:
    def __init__(self):
        self.heads = []
        self.bodies = []
        self.ends = 0

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        self.heads.append(url)

    def on_body(self, body):
        self.bodies.append(bytes(body))

    def on_message_complete(self, trailers):
        self.ends += 1


def test_blank_lines_in_a_content_length_body_do_not_cut_it_into_pieces():
    """A body of ``\\r\\n\\r\\n`` repeated was handed to llhttp cut at each of them (one
    call, one body event per blank line: 250 times the CPU of any other body)."""
    for pattern in (b"xxxx", b"\r\n\r\n"):
        handler = Recorder()
        parser = RequestParser(handler)
        body = pattern * (1 << 18)  # 1 MiB
        data = (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                + b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        reads = range(0, len(data), 65536)
        for at in reads:
            parser.feed(data[at:at + 65536])
        assert handler.heads == ["/a", "/b"] and handler.ends == 2
        assert b"".join(handler.bodies) == body
        assert len(handler.bodies) <= len(reads), (pattern, len(handler.bodies))



def test_a_tls_response_written_faster_than_it_is_read_arrives_whole_and_in_order(serve, pki):  # noqa: F811
    """The records the kernel has not taken wait in the TLS layer; those made meanwhile
    wait behind them, each copied once (the whole backlog was copied again at every send,
    quadratic in a large response to a slow reader)."""
    from prefork.net.tls import ServerTLS
    from prefork.net.tlsconfig import build_context
    blocks = [bytes([i]) * (256 * 1024) for i in range(64)]  # 16 MiB, each block its own byte

    def on_request(req, res):
        res.set_header("Content-Length", str(sum(map(len, blocks))))
        for block in blocks:
            res.write(block)  # drain ignored: everything is queued at once
        res.end()
    st = serve(lambda server, st: server.on("request", on_request))
    listener = socket.create_server(("127.0.0.1", 0))
    tls = ServerTLS(build_context({"certfile": pki.cert, "keyfile": pki.key}), 5.0)
    st.call(lambda: st.server.listen(sock=listener, tls=tls))
    raw = socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=20)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    with client_context(pki).wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        digest, got, head = hashlib.sha256(), 0, b""
        while True:
            try:
                chunk = sock.recv(16384)
            except ssl.SSLEOFError:
                break
            if not chunk:
                break
            if head is not None:
                head += chunk
                if b"\r\n\r\n" not in head:
                    continue
                head, _, chunk = head.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 OK"), head
                head = None
            digest.update(chunk)
            got += len(chunk)
    assert got == 16 * 1024 * 1024
    assert digest.digest() == hashlib.sha256(b"".join(blocks)).digest()


def test_thousands_of_repeated_fields_are_joined_once_as_node_joins_them():
    """Repeated fields were joined by concatenation at each one (quadratic in a head of
    thousands of them); they are joined once, at the head's end, with Node's rules."""
    handler = Recorder()
    parser = RequestParser(handler, max_header_size=1 << 20)
    fields = (b"A: 1\r\nCookie: c=1\r\nSet-Cookie: s=1\r\nUser-Agent: first\r\n"
              + b"A: 2\r\nCookie: c=2\r\nSet-Cookie: s=2\r\nUser-Agent: second\r\n" * 5000)
    parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    headers = parser.headers
    assert headers["a"] == ", ".join(["1"] + ["2"] * 5000)
    assert headers["cookie"] == "; ".join(["c=1"] + ["c=2"] * 5000)
    assert headers["set-cookie"] == ["s=1"] + ["s=2"] * 5000
    assert headers["user-agent"] == "first"
    assert handler.ends == 1


def test_a_threaded_wsgi_body_read_a_byte_at_a_time_and_by_lines_is_whole(serve):
    """``wsgi.input.read(1)`` on a pool thread copied the rest of its chunk at each call;
    the first chunk is now read from an offset. What the app reads is unchanged."""
    from prefork.wsgi import WSGIAdapter
    body = b"".join(b"line %d\n" % i for i in range(20000)) + b"tail without a newline"

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        got = [stream.read(1) for _ in range(1000)]
        got.append(stream.readline())
        got.append(stream.readline(3))
        got.append(stream.read(70000))
        while True:
            line = stream.readline()
            if not line:
                break
            got.append(line)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [hashlib.sha256(b"".join(got)).hexdigest().encode()]

    def setup(server, st):
        st.adapter = WSGIAdapter(app, threads=4)
        st.adapter.setup(server)
    st = serve(setup)
    try:
        with socket.create_connection(("127.0.0.1", st.port), timeout=20) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
                         + body)
            data = read_until_close(sock)
        assert data.endswith(hashlib.sha256(body).hexdigest().encode()), data
    finally:
        st.call(lambda: st.adapter.close())


def test_a_forwarded_chain_of_one_trusted_proxy_repeated_names_the_farthest():
    from prefork.http.forwarded import forwarded_client
    calls = []

    def is_proxy(address):
        calls.append(address)
        return address == "127.0.0.1"
    assert forwarded_client("203.0.113.9, " + "127.0.0.1, " * 1600 + "127.0.0.1", is_proxy) == "203.0.113.9"
    assert len(calls) <= 3  # each distinct hop judged once
    assert forwarded_client(",".join(["127.0.0.1"] * 1600), lambda a: True) == "127.0.0.1"
