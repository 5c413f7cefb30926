"""The request parser reads a read that is one whole common head without llhttp's
callbacks (``RequestParser.feed``): table-driven, every input goes through a parser with
that path and one with it off (``fast_heads = False``), and both must make the same
handler calls, with the same arguments and parser state, and raise the same errors at
the same offsets (no sockets)."""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_inputs  # noqa: E402
from prefork.http.errors import ParseError  # noqa: E402
from prefork.http.parser import RequestParser  # noqa: E402


class Recorder:
    """Records every handler call with what the handler can see of the parser."""

    def __init__(self, raise_on=None):
        self.calls = []
        self.parser = None
        self.raise_on = raise_on  # (call name, count): raise from that call

    def _raise(self, name):
        if self.raise_on is not None and self.raise_on[0] == name:
            self.raise_on = (name, self.raise_on[1] - 1)
            if self.raise_on[1] < 0:
                self.raise_on = None
                raise KeyError("from the handler")

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        p = self.parser
        self.calls.append(("headers", method, url, version, list(raw), keep_alive, upgrade, dict(p.headers),
                           p.in_message, p.headers_complete, p.body_received, p.request_line()))
        self._raise("headers")

    def on_body(self, body):
        self.calls.append(("body", bytes(body)))

    def on_message_complete(self, trailers):
        p = self.parser
        self.calls.append(("complete", trailers, p.in_message, p.headers_complete, p.request_line()))
        self._raise("complete")


def _parser(fast, options, raise_on=None):
    handler = Recorder(raise_on)
    parser = RequestParser(handler, options.get("max_header_size", 16384))
    parser.unique_host = options.get("unique_host", False)
    parser.join_all = options.get("join_all", False)
    if not fast:
        parser.fast_heads = False
    handler.parser = parser
    return parser, handler


def _run(reads, options, fast, raise_on=None):
    parser, handler = _parser(fast, options, raise_on)
    out = []
    for data in reads:
        try:
            result = ("ok", parser.feed(data), parser.held)
            parser.held = b""
        except ParseError as err:
            result = ("parse error", err.code, err.bytes_parsed, err.reason, err.raw_packet)
        except Exception as exc:  # noqa: BLE001 - a handler's own exception, compared as is
            result = ("raised", type(exc).__name__, str(exc))
        out.append((result, handler.calls, parser.in_message, parser.headers_complete,
                    parser.request_line()))
        handler.calls = []
    try:
        parser.finish()
        out.append(("finish", parser.eof_error() and parser.eof_error().code))
    except ParseError as err:
        out.append(("finish error", err.code))
    return out, parser


def _same(reads, options=None, raise_on=None):
    options = options or {}
    fast, fast_parser = _run(reads, options, True, raise_on)
    slow, _ = _run(reads, options, False, raise_on)
    assert fast == slow, (reads, options)
    return fast_parser


# -- the inputs ------------------------------------------------------------------------
COMMON = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\nConnection: keep-alive\r\nCookie: a=b; c=d\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nhost: x\r\nX-Custom-Thing: 1\r\n\r\n",
    b"OPTIONS /a HTTP/1.1\r\nHost: x\r\n\r\n",
    b"DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n",
    b"PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
    b"PATCH /a HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nCookie: 1\r\nCookie: 2\r\nUser-Agent: u\r\n"
    b"User-Agent: v\r\nX-Y: 1\r\nx-y: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost:x\r\nA:  \t b \t \r\nB:\r\nC: \r\nD:\t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive  \r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\n",
    b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    b"CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
    b"GET http://h/p HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\nX: \xe9\xa0\r\nY: a\xa0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close \r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close, keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection:close\r\n\r\n",
]

BAD = [
    b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1 \r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n y\r\n\r\n",
    b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n", b"GET / HTTP/1.1\r\n: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\x7fb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", b"GET / HTTP/1.1\r\nH\x80: x\r\n\r\n", b"get / HTTP/1.1\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\n\r\n", b"GET /a\tb HTTP/1.1\r\n\r\n", b"GET / HTTP/1.2\r\n\r\n",
    b"GET / http/1.1\r\n\r\n", b"\r\nGET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n", b"GET  HTTP/1.1\r\n\r\n", b" / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length:\t0\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 0\t\r\n\r\n", b"GET / HTTP/1.1\r\n\x00\r\n\r\n",
]

LATER = [  # what may follow a head on the same connection
    b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=f\r\nabc\r\n0\r\nT: v\r\n\r\n",
    b"BAD\r\n\r\n", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", b"\r\n", b"GET /x HTTP/1.0\r\n\r\n",
    b"GET /u HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nrest",
]


def _generated(rng):
    """A head built from usual and unusual pieces, sometimes with one byte changed."""
    method = rng.choice([b"GET", b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE",
                         b"CONNECT", b"GE", b"gET"])
    target = rng.choice([b"/", b"/a/b?c=d&e", b"/%7e#x", b"/" + bytes(rng.randrange(0x21, 0x7f) for _ in range(20)),
                         b"*", b"http://a/b"])
    lines = [method + b" " + target + b" " + rng.choice([b"HTTP/1.1"] * 8 + [b"HTTP/1.0", b"HTTP/2.0"])]
    for _ in range(rng.choice([0, 1, 2, 3, 5, 12, 40])):
        name = rng.choice([b"Host", b"Accept", b"accept-encoding", b"Cookie", b"X-Req", b"Connection",
                           b"Content-Length", b"Transfer-Encoding", b"Upgrade", b"Expect", b"Set-Cookie",
                           b"User-Agent", b"TE", b"Referer", b"X-" + bytes(rng.choice(b"abcXYZ09-_!~")
                                                                          for _ in range(5))])
        value = rng.choice([b"x", b"keep-alive", b"close", b"0", b"a, b", b"", b" v ", b"\tv\t",
                            b"v" * rng.randrange(1, 300), bytes(rng.randrange(0x20, 0x7f) for _ in range(30))])
        lines.append(name + b":" + rng.choice([b" ", b"", b"  ", b"\t"]) + value)
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    if rng.random() < 0.4:
        at = rng.randrange(len(head))
        byte = rng.choice([0, 1, 9, 10, 13, 32, 58, 0x7f, 0x80, 0xff, rng.randrange(256)])
        how = rng.random()
        if how < 0.4:
            head = head[:at] + bytes([byte]) + head[at + 1:]
        elif how < 0.8:
            head = head[:at] + bytes([byte]) + head[at:]
        else:
            head = head[:at] + head[at + 1:]
    return head


def test_common_and_bad_heads_alone_and_followed():
    for head in COMMON + BAD:
        _same([head])
        _same([head, head])
        for later in LATER:
            _same([head, later])
            _same([later, head])
            _same([head + later])


def test_options():
    for head in COMMON + BAD:
        for options in ({"unique_host": True}, {"join_all": True}, {"max_header_size": 0},
                        {"max_header_size": len(head)}, {"max_header_size": len(head) - 1},
                        {"max_header_size": len(head) + 1}, {"max_header_size": 20}):
            _same([head, COMMON[0]], options)


def test_size_limit_edges():
    for size in (100, 1000, 16384):
        for delta in range(-20, 3):
            pad = max(1, size - 40 + delta)
            head = b"GET /" + b"a" * 3 + b" HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n"
            for limit in (size, len(head) - 1, len(head), len(head) + 1, len(head) - 16, len(head) - 17):
                _same([head, head], {"max_header_size": limit})


def test_handler_raising():
    rng = random.Random(5)
    for head in COMMON + BAD + [_generated(rng) for _ in range(200)]:
        for raise_on in (("headers", 0), ("complete", 0), ("headers", 1), ("complete", 1)):
            _same([head, head, head], raise_on=raise_on)
            _same([head, b"GET / HTTP/1.1\r\n\r\n", head], raise_on=raise_on)


class _Refusing(Recorder):
    """Refuses further messages from its first head on, as a server does after a final
    response (``on_begin`` set from inside the handler call)."""

    def on_headers(self, *args):
        super().on_headers(*args)
        self.parser.on_begin = self.refuse

    def refuse(self):
        raise KeyError("refused")


def test_a_handler_that_sets_on_begin():
    for head in COMMON + BAD:
        outs = []
        for fast in (True, False):
            handler = _Refusing()
            parser = handler.parser = RequestParser(handler)
            parser.fast_heads = fast
            out = []
            for data in (head, head, b"GET / HTTP/1.1\r\n\r\n"):
                try:
                    out.append(parser.feed(data))
                except Exception as exc:  # noqa: BLE001 - compared by type and text
                    out.append((type(exc).__name__, str(exc)))
            outs.append((out, handler.calls, parser.in_message))
        assert outs[0] == outs[1], head


def test_generated_heads():
    rng = random.Random(20261206)
    for _ in range(3000):
        head = _generated(rng)
        _same([head, head])
        _same([head, rng.choice(LATER)])


def test_pipelined_pairs_split_at_every_offset():
    rng = random.Random(7)
    pairs = [COMMON[0] + COMMON[2], COMMON[2] + LATER[1], COMMON[3] + LATER[2], COMMON[0] + BAD[6],
             COMMON[14] + COMMON[0], _generated(rng) + COMMON[0]]
    for data in pairs:
        for at in range(1, len(data)):
            _same([data[:at], data[at:]])
            _same([data[:at], data[at:], COMMON[0]])


def test_fuzz_inputs():
    for reads, whole in fuzz_inputs.inputs(99, 3000):
        _same(reads)
        _same([whole])


class _Counting(RequestParser):
    urls = 0

    def on_url(self, url):
        self.urls += 1
        super().on_url(url)


def test_the_fast_path_is_taken():
    # (the comparisons above compare two paths: the common heads do take the fast one)
    handler = Recorder()
    parser = handler.parser = _Counting(handler)
    for head in (COMMON[0], COMMON[2], COMMON[0], COMMON[9]):
        parser.feed(head)
    assert parser.urls == 0 and len(handler.calls) == 8
    parser.feed(COMMON[17])  # (Content-Length: llhttp's callbacks)
    assert parser.urls == 1
    parser.feed(COMMON[14])  # Connection: close, then llhttp refuses more
    assert parser.urls == 1 and handler.calls[-2][5] is False
    with pytest.raises(ParseError) as caught:
        parser.feed(b"\r\nGET / HTTP/1.1\r\n\r\n")
    assert caught.value.code == "HPE_CLOSED_CONNECTION"


@pytest.mark.parametrize("head", COMMON[:3] + COMMON[14:15] + COMMON[-6:])
def test_a_refusal_after_a_fast_head_is_at_the_same_offset(head):
    _same([head, b"GET / HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n"])
    _same([head + b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n"])
