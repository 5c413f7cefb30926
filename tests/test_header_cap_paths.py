"""``max_headers_count`` on a real server, on both sides of the head's shortcut.

A head of 31 fields or fewer takes the parser's own header map unless the server's
``max_headers_count`` is below the field count; anything else goes through Node's
counting rules (http/headers.py, pinned to Node's table in tests/test_parser.py). Here
the request listener reports what it got (raw fields, map entries, the last field
kept) for caps around every boundary, the daemon's default (1000) and none, against
counts on each side of 31: the two roads must agree with Node's rules exactly.
"""

import socket

import pytest

from prefork.http.headers import node_header_map_pairs, node_raw_header_pairs

CAPS = [None, 0, 1, 2, 5, 29, 30, 31, 32, 33, 1000]
COUNTS = [1, 2, 5, 29, 30, 31, 32, 33, 62, 63]


def head(count):
    fields = b"".join(b"X-F%d: v%d\r\n" % (i, i) for i in range(1, count))
    return b"GET / HTTP/1.1\r\nHost: h\r\n" + fields + b"Connection: close\r\n\r\n"


def expected(count, cap):
    kept = node_raw_header_pairs(count + 1, cap)  # (Connection is a field too)
    mapped = node_header_map_pairs(kept, cap)
    return kept, mapped


@pytest.mark.parametrize("cap", CAPS)
def test_fields_kept_and_mapped_follow_nodes_rules_for_every_cap(serve, cap):
    def setup(server, st_):
        def on_request(req, res):
            raw = req.raw_headers
            st_.record(len(raw) // 2, len(req.headers), raw[-2] if raw else None, req.headers.get("host"))
            res.end("ok")
        server.on("request", on_request)

    st_ = serve(setup, max_headers_count=cap)
    for count in COUNTS:
        st_.events.clear()
        with socket.create_connection(("127.0.0.1", st_.port), timeout=5) as sock:
            sock.sendall(head(count))
            reply = b""
            while b"\r\n\r\nok" not in reply:
                chunk = sock.recv(65536)
                assert chunk, f"closed before the answer: {reply!r}"
                reply += chunk
        kept, mapped = expected(count, cap)
        got = st_.wait_for(lambda e: True)
        names = ["Host"] + [f"X-F{i}" for i in range(1, count)] + ["Connection"]
        assert got == (kept, mapped, names[kept - 1], "h"), (count, cap, got)
