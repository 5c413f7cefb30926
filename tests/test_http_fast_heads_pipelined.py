"""The request parser's fast path on pipelined reads (``RequestParser.feed``: each whole
common head at the front of a read, head after head): every input goes through a parser
with that path and one with it off (``fast_heads = False``), and both must make the same
handler calls (and ``hold`` calls), with the same arguments and parser state, raise the
same errors at the same offsets in the read (``bytes_parsed``, ``raw_packet``: the whole
read), return the same upgrade offset and keep the same bytes in ``held`` (no sockets).

The reads hold 2 to 20 heads, common ones mixed with others (a body with
Content-Length, a chunked one, an Upgrade, ``Connection: close`` in the middle, an
invalid head, an HTTP/1.0 one, an incomplete last head finished by the next read), and
are split at every offset; the handler raises from the k-th head, its ``hold`` says
True after the k-th, it sets ``on_begin`` (refusing any later message) from the k-th, or
it releases the parser after the k-th."""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import test_http_fast_heads as base  # noqa: E402
from prefork.http.errors import ParseError  # noqa: E402
from prefork.http.parser import RequestParser  # noqa: E402

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
FAST = [GET, base.COMMON[2], b"GET /a?b HTTP/1.1\r\n\r\n", b"HEAD / HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\n\r\n",
        b"DELETE /d HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"]
CLOSE = b"GET /close HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
OTHER = [
    b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab\r\nc",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=f\r\nabc\r\n0\r\nT: v\r\n\r\n",
    b"GET /u HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nrest",
    CLOSE,
    b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",  # refused
    b"GET /x HTTP/1.0\r\n\r\n",
    b"get / HTTP/1.1\r\n\r\n",  # refused
    b"\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",  # refused with unique_host
    b"GET / HTTP/1.1\r\nX: " + b"v" * 200 + b"\r\n\r\n",  # over a small limit
]


class Handler(base.Recorder):
    """A Recorder whose ``hold`` says True after its k-th message (once), that may set
    ``on_begin`` to refuse later messages, or release the parser, after its k-th head."""

    def __init__(self, raise_on=None, hold_after=None, refuse_after=None, release_after=None):
        super().__init__(raise_on)
        self.completed = 0
        self.hold_after = hold_after
        self.refuse_after = refuse_after
        self.release_after = release_after
        self.released = False

    def on_headers(self, *args):
        super().on_headers(*args)
        if self.refuse_after is not None and len([c for c in self.calls if c[0] == "headers"]) > self.refuse_after:
            self.parser.on_begin = self.refuse

    def refuse(self):
        self.calls.append(("refused",))
        raise KeyError("refused")

    def on_message_complete(self, trailers):
        super().on_message_complete(trailers)
        self.completed += 1
        if self.completed == self.release_after:
            self.parser.release()
            self.released = True

    def hold(self):
        self.calls.append(("hold", self.completed, self.parser.in_message))
        if self.completed == self.hold_after:
            self.hold_after = None
            return True
        return False


def _run(reads, fast, options, **handling):
    handler = Handler(**handling)
    parser = RequestParser(handler, options.get("max_header_size", 16384))
    parser.unique_host = options.get("unique_host", False)
    parser.hold = handler.hold
    parser.fast_heads = fast
    handler.parser = parser
    out = []
    reads = list(reads)
    for _ in range(200):  # (bounded: each round feeds a read or what was held)
        if not reads:
            break
        data = reads.pop(0)
        try:
            result = ("ok", parser.feed(data), parser.held)
        except ParseError as err:
            result = ("parse error", err.code, err.bytes_parsed, err.reason, err.raw_packet)
        except Exception as exc:  # noqa: BLE001 - compared by type (and text, but for a release)
            result = ("raised", type(exc).__name__, "" if handling.get("release_after") else str(exc))
        if result[0] == "ok" and parser.held:
            reads.insert(0, parser.held)  # fed next, as the connection feeds it
            parser.held = b""
        state = None if handler.released else (parser.in_message, parser.headers_complete,
                                                     parser.request_line())
        out.append((result, handler.calls, state))
        handler.calls = []
        if result[0] != "ok" or result[1] is not None:
            break  # (refused, raised or upgraded: the server feeds nothing more)
    else:
        raise AssertionError("held bytes fed back without end")
    if not handler.released:
        try:
            parser.finish()
            out.append(("finish", parser.eof_error() and parser.eof_error().code))
        except ParseError as err:
            out.append(("finish error", err.code))
    return out, parser


def _same(reads, options=None, **handling):
    options = options or {}
    fast, parser = _run(reads, True, options, **handling)
    slow, _ = _run(reads, False, options, **handling)
    assert fast == slow, (reads, options, handling)
    return fast


def _pipelines(rng, count):
    for _ in range(count):
        heads = [rng.choice(FAST) if rng.random() < 0.75 else rng.choice(OTHER + base.BAD + base.COMMON)
                 for _ in range(rng.randrange(2, 21))]
        yield heads


def test_pipelines_of_common_heads():
    for n in range(2, 21):
        out = _same([GET * n])
        assert [c[0] for c in out[0][1]].count("complete") == n
        _same([b"".join(FAST[i % len(FAST)] for i in range(n))])
        _same([GET * n, GET * n])


def test_mixed_pipelines():
    rng = random.Random(1206)
    for heads in _pipelines(rng, 1500):
        data = b"".join(heads)
        _same([data])
        _same([data, GET])
        cut = rng.randrange(1, len(data))
        _same([data[:cut], data[cut:]])


def test_other_heads_between_common_ones():
    for other in OTHER + base.BAD + base.COMMON:
        for before in (1, 2, 5):
            for after in (0, 1, 3):
                data = GET * before + other + GET * after
                _same([data])
                _same([data], {"unique_host": True})
                _same([data], {"max_header_size": 100})
                _same([data + GET[:10], GET[10:] + GET])  # an incomplete last head, finished next


def test_three_heads_split_at_every_offset():
    for data in (GET + FAST[1] + GET, GET + CLOSE + GET, GET + OTHER[0] + GET, GET + OTHER[1] + FAST[3],
                 GET + OTHER[2] + GET, GET + OTHER[4] + GET, FAST[2] + FAST[3] + FAST[4]):
        for at in range(1, len(data)):
            _same([data[:at], data[at:]])
            _same([data[:at], data[at:], GET])


def test_close_in_the_middle():
    for n in range(0, 4):
        for after in (GET, GET * 3, b"\r\n", b"\r\n\r\nGET", b"X", OTHER[0]):
            out = _same([GET * n + CLOSE + after])
            assert out[-2][0][:2] == ("parse error", "HPE_CLOSED_CONNECTION") or after == b"\r\n"
            _same([GET * n + CLOSE, after])


def test_size_limit_per_head():
    heads = [GET, b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: x\r\n\r\n", GET]
    data = b"".join(heads)
    for limit in range(len(GET) - 3, len(heads[1]) + 3):
        _same([data], {"max_header_size": limit})
        _same([GET * 10], {"max_header_size": limit})


def test_a_handler_raising_from_the_kth_head():
    rng = random.Random(7)
    datas = [GET * 6, b"".join(FAST), GET * 2 + OTHER[0] + GET * 2, GET + CLOSE + GET]
    datas += [b"".join(heads) for heads in _pipelines(rng, 60)]
    for data in datas:
        for k in range(0, 6):
            for name in ("headers", "complete"):
                _same([data, GET], raise_on=(name, k))


def test_hold_after_the_kth_head():
    rng = random.Random(8)
    datas = [GET * 6, b"".join(FAST), GET * 2 + OTHER[0] + GET * 2, GET * 2 + CLOSE + GET, GET * 3 + GET[:7]]
    datas += [b"".join(heads) for heads in _pipelines(rng, 60)]
    for data in datas:
        for k in range(1, 7):
            out = _same([data, GET], hold_after=k)
            if data == GET * 6 and k < 6:
                assert out[0][0] == ("ok", None, GET * (6 - k))  # the rest held, then fed


def test_on_begin_set_after_the_kth_head():
    rng = random.Random(9)
    datas = [GET * 6, b"".join(FAST), GET * 2 + OTHER[0] + GET * 2, GET + CLOSE + GET]
    datas += [b"".join(heads) for heads in _pipelines(rng, 60)]
    for data in datas:
        for k in range(0, 6):
            out = _same([data, GET], refuse_after=k)
            if data == GET * 6 and k < 5:
                calls = out[0][1]
                assert [c[0] for c in calls].count("complete") == k + 1 and calls[-1] == ("refused",)
                assert out[0][0][:2] == ("raised", "KeyError")


def test_parser_released_after_the_kth_head():
    for data in (GET * 4, GET * 2 + OTHER[0] + GET, GET + CLOSE + GET):
        for k in range(1, 5):
            _same([data, GET], release_after=k)


def test_pipelined_heads_take_the_fast_path():
    counted = []

    class Counting(RequestParser):
        def on_url(self, url):
            counted.append(url)
            super().on_url(url)

    handler = Handler()
    parser = handler.parser = Counting(handler)
    parser.hold = handler.hold
    assert parser.feed(GET * 16) is None
    assert counted == [] and [c[0] for c in handler.calls].count("complete") == 16
    assert parser.feed(GET * 2 + OTHER[0] + GET) is None  # llhttp's callbacks from the body's head on
    assert counted == [b"/c", b"/"]
    assert parser.feed(GET * 3) is None and len(counted) == 2
