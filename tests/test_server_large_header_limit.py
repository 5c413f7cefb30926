"""A ``max_header_size`` near or past 256 KiB (the bytes a parser keeps of a message that
spans reads) counts a head left open by its reads as Node counts it: one field value
(or name) that takes the head past the limit is refused with 431 as soon as the read
that takes it there comes, as ``node --max-http-header-size`` does. prefork dropped the
kept bytes before its counter started, and then refused only past four times the
limit: the client waited for its headers timeout instead."""

import select
import socket

from harness import node_script_port

NODE = r"""
const http = require('http');
const s = http.createServer({ maxHeaderSize: %d }, (req, res) => res.end('ok'));
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
"""

HEADS = {
    "value": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ",
    "name": b"GET / HTTP/1.1\r\nHost: x\r\nX",
    "target": b"GET /",
}


def first_reply(port, data, piece=None):
    """What the server says to ``data`` (no head end in it; sent in writes of ``piece``
    bytes when given) within 3 s, or None."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        piece = piece or len(data)
        try:
            for start in range(0, len(data), piece):
                sock.sendall(data[start:start + piece])
        except OSError:
            pass  # (refused and closed while the rest was still going out)
        ready, _, _ = select.select([sock], [], [], 3.0)
        if not ready:
            return None
        try:
            return sock.recv(200)
        except ConnectionResetError:
            return b"<reset>"


def open_heads(limit):
    return {kind: head + b"a" * (limit + 4096 - len(head)) for kind, head in HEADS.items()}


def test_a_head_over_a_large_limit_is_refused_at_once_as_node_refuses_it(serve):
    got, expected = {}, {}
    for limit in (262143, 300000):
        st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")),
                   max_header_size=limit)
        for kind, data in open_heads(limit).items():
            got[limit, kind] = first_reply(st.port, data)
        with node_script_port(NODE % limit) as port:
            for kind, data in open_heads(limit).items():
                expected[limit, kind] = first_reply(port, data)
    assert expected[262143, "value"].startswith(b"HTTP/1.1 431 ")
    assert got == expected


def test_a_head_over_a_limit_past_the_kept_bytes_is_refused_at_once_whatever_the_reads(serve):
    """Past 256 KiB of kept bytes the counter starts before the wire reaches the limit:
    every later read is counted, so a 400000 or 1 MiB limit refuses the read that
    crosses it (prefork waited until about twice the limit less 256 KiB)."""
    got, expected = {}, {}
    for limit in (400000, 1048576):
        data = open_heads(limit)["value"]
        st = serve(lambda server, st: server.on("request", lambda req, res: res.end("ok")),
                   max_header_size=limit)
        for piece in (65536, 1460):
            got[limit, piece] = first_reply(st.port, data, piece)
        with node_script_port(NODE % limit) as port:
            for piece in (65536, 1460):
                expected[limit, piece] = first_reply(port, data, piece)
    assert expected[400000, 65536].startswith(b"HTTP/1.1 431 ")
    assert got == expected
