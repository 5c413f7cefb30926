"""``res.chunked_encoding`` may be set, as Node's ``chunkedEncoding`` (a plain property)
may: a handler ported from Node that sets it (``res.chunkedEncoding = false`` before a
Content-Length) is answered, not failed with a 500; the value set is read back until
the head is fixed, and the framing stays the head's own."""

import socket

from harness import read_until_close


def test_a_handler_setting_chunked_encoding_is_answered_with_the_heads_framing(serve):
    seen = []

    def setup(server, st):
        def on_request(req, res):
            res.chunked_encoding = req.url == "/true"
            seen.append(res.chunked_encoding)
            if req.url == "/false":
                res.set_header("Content-Length", "2")
            res.end("ok")
            seen.append(res.chunked_encoding)
        server.on("request", on_request)
    st = serve(setup)
    for path in ("/false", "/true"):
        with socket.create_connection(("127.0.0.1", st.port), timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode())
            answer = read_until_close(sock)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), answer
        assert body == b"ok" and b"content-length: 2" in head.lower(), answer  # (end(data): a length)
    assert seen == [False, False, True, False]
