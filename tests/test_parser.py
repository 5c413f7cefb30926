"""The protocol core (prefork.http) on its own: no sockets.

Every raw request of the conformance scenarios is fed whole, byte by byte and in seeded
random splits; the events and the error (code and absolute offset) must not depend on
how the bytes were split.
"""

import random

import pytest
from hypothesis import given, settings, strategies as st

from prefork.http.errors import ParseError
from prefork.http.headers import node_header_map_pairs, node_raw_header_pairs
from prefork.http.parser import RequestParser
from prefork.http.framing import chunk
from prefork.http.serialize import DateCache, early_hints, http_date, status_line
from scenarios import SCENARIOS


class Recorder:
    def __init__(self):
        self.events = []

    def on_message_begin(self):
        self.events.append(("begin",))

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        self.events.append(("head", method, url, version, tuple(raw), keep_alive, upgrade))

    def on_body(self, body):
        if self.events and self.events[-1][0] == "body":
            self.events[-1] = ("body", self.events[-1][1] + body)
        else:
            self.events.append(("body", body))

    def on_message_complete(self, trailers):
        self.events.append(("done", tuple(trailers or ())))


def run(pieces, max_header_size=16384):
    rec = Recorder()
    parser = RequestParser(rec, max_header_size)
    fed = 0
    for piece in pieces:
        try:
            offset = parser.feed(piece)
        except ParseError as err:
            return rec.events, (err.code, fed + err.bytes_parsed)
        if offset is not None:
            return rec.events, ("upgrade", fed + offset)
        fed += len(piece)
    return rec.events, None


def same(result, whole):
    """Split-invariant comparison. Size overflows are found where the count crosses the
    limit inside a read, so its offset depends on the split (as in Node): code only."""
    if whole[1] is not None and whole[1][0] in ("HPE_HEADER_OVERFLOW", "HPE_CHUNK_EXTENSIONS_OVERFLOW"):
        return result[0] == whole[0] and result[1][0] == whole[1][0]
    return result == whole


def splits(data, seed):
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        pieces.append(data[i:i + n])
        i += n
    return pieces


REQUESTS = []
for scenario in SCENARIOS:
    data = b"".join(step for step in scenario.steps if isinstance(step, (bytes, bytearray)))
    if data and "maxHeaderSize" not in str(scenario.config) and scenario.name.endswith(("(l)",)) is False:
        REQUESTS.append((scenario.name, bytes(data)))


@pytest.mark.parametrize("name,data", REQUESTS, ids=[n for n, _ in REQUESTS])
def test_split_invariance(name, data):
    whole = run([data])
    assert same(run([bytes([b]) for b in data]), whole)
    for seed in range(3):
        assert same(run(splits(data, seed)), whole)


def test_pipelined_requests_parse_in_order():
    data = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\n\r\n"
    events, error = run([data])
    assert error is None
    assert [e[2] for e in events if e[0] == "head"] == ["/a", "/b", "/c"]
    assert ("body", b"abc") in events
    assert sum(1 for e in events if e[0] == "done") == 3


def test_trailers_reported_with_the_end():
    data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: 1 \r\n\r\n"
    events, error = run([data])
    assert error is None
    assert events[-1] == ("done", ("X-T", "1"))


@pytest.mark.parametrize("size,accepted", [(99, True), (100, False), (101, False)])
def test_header_size_limit_boundaries(size, accepted):
    # counted = target + names + values: "/" + "Host" + "x" = 6 bytes, the rest in X-Pad
    pad = size - 6 - len("X-Pad")
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * pad + b"\r\n\r\n"
    events, error = run([data], max_header_size=100)
    if accepted:
        assert error is None and events[-1][0] == "done"
    else:
        assert error[0] == "HPE_HEADER_OVERFLOW"


@pytest.mark.parametrize("size,accepted", [(99, True), (100, False), (130, False)])
def test_header_size_limit_holds_at_every_split(size, accepted):
    """The fields of a head are counted whichever reads bring them: a read shorter than
    the limit that does not end the head leaves its fields counted for the next."""
    pad = (size - 6 - 3 * len("X-Pn")) // 3
    last = size - 6 - 3 * len("X-Pn") - 2 * pad
    data = (b"GET / HTTP/1.1\r\nHost: x\r\nX-P1: " + b"p" * pad + b"\r\nX-P2: " + b"p" * pad
            + b"\r\nX-P3: " + b"p" * last + b"\r\n\r\n")
    for cut in range(1, len(data)):
        events, error = run([data[:cut], data[cut:]], max_header_size=100)
        if accepted:
            assert error is None and events[-1][0] == "done", cut
        else:
            assert error is not None and error[0] == "HPE_HEADER_OVERFLOW", cut


@pytest.mark.parametrize("ext,accepted", [(16383, True), (16384, True), (16385, False)])
def test_chunk_extension_limit_boundaries(ext, accepted):
    data = (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"e" * ext
            + b"\r\na\r\n0\r\n\r\n")
    events, error = run([data])
    if accepted:
        assert error is None
    else:
        assert error[0] == "HPE_CHUNK_EXTENSIONS_OVERFLOW"
        assert ("head", "POST", "/", "1.1", ("Host", "x", "Transfer-Encoding", "chunked"), True, False) in events


def test_unbounded_head_is_refused():
    rec = Recorder()
    parser = RequestParser(rec, 1024)
    parser.feed(b"GET / HTTP/1.1\r\nX-Long: ")
    with pytest.raises(ParseError) as info:
        for _ in range(100):
            parser.feed(b"v" * 1000)
    assert info.value.code == "HPE_HEADER_OVERFLOW"
    assert info.value.status_hint == 431


def test_eof_state():
    rec = Recorder()
    parser = RequestParser(rec)
    assert parser.eof_error() is None
    parser.feed(b"GET / HT")
    err = parser.eof_error()
    assert (err.code, err.message, err.reason) == ("HPE_INVALID_EOF_STATE", "Parse Error", "Invalid EOF state")


def test_error_fields():
    rec = Recorder()
    with pytest.raises(ParseError) as info:
        RequestParser(rec).feed(b"GARBAGE\r\n\r\n")
    err = info.value
    assert (err.code, err.reason, err.message) == (
        "HPE_INVALID_METHOD", "Invalid method encountered", "Parse Error: Invalid method encountered")
    assert err.bytes_parsed == 1 and err.raw_packet == b"GARBAGE\r\n\r\n" and err.status_hint == 400


@pytest.mark.parametrize("total,limit,kept,mapped", [
    (6, 3, 6, 3), (33, 3, 31, 3), (100, 3, 31, 3), (1000, None, 1000, 1000), (1001, None, 1001, 1000),
    (1023, None, 1023, 1000), (2001, None, 1023, 1000), (2001, 2000, 2001, 2000), (2100, 2000, 2015, 2000),
    (6, 0, 6, 6), (31, 3, 31, 3), (32, 3, 31, 3),
])
def test_node_header_count_rules(total, limit, kept, mapped):
    assert node_raw_header_pairs(total, limit) == kept
    assert node_header_map_pairs(kept, limit) == mapped


def test_serializer_pieces():
    assert status_line(200) == "HTTP/1.1 200 OK\r\n"
    assert status_line(299) == "HTTP/1.1 299 unknown\r\n"
    assert status_line(200, "Fine") == "HTTP/1.1 200 Fine\r\n"
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert early_hints({"x": "1"}) is None
    assert early_hints({"link": ["<a>", "<b>"], "x-hint": "yes"}) == \
        b"HTTP/1.1 103 Early Hints\r\nLink: <a>, <b>\r\nx-hint: yes\r\n\r\n"
    line = DateCache().line()
    assert line.startswith("Date: ") and line.endswith(" GMT\r\n")


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=2 ** 34))  # 1970 to the year 2514
def test_the_date_line_is_the_imf_fixdate_of_rfc_9110(seconds):
    from email.utils import formatdate

    assert http_date(seconds) == formatdate(seconds, usegmt=True)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_arbitrary_bytes_parse_or_fail_cleanly(data, step):
    pieces = [data[i:i + step] for i in range(0, len(data), step)]
    events, error = run(pieces)  # anything but a ParseError escapes and fails the test
    assert error is None or error[0] == "upgrade" or error[0].startswith("HPE_")


_TOKENS = st.sampled_from([b"GET", b"POST", b" ", b"/", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"Host: x",
                           b"Content-Length: 3", b"Transfer-Encoding: chunked", b"abc", b"0", b":",
                           b"Connection: close", b"Expect: 100-continue", b"\n", b"3;e=1"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=40), st.integers(min_value=1, max_value=16))
def test_near_http_parses_the_same_however_split(tokens, step):
    data = b"".join(tokens)
    whole = run([data])
    assert same(run([data[i:i + step] for i in range(0, len(data), step)]), whole)


class HeadRecorder(Recorder):
    def __init__(self):
        super().__init__()
        self.maps = []
        self.parser = None

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        super().on_headers(method, url, version, raw, keep_alive, upgrade)
        self.maps.append(dict(self.parser.headers))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Host", "host", "HOST", "User-Agent", "user-agent", "USER-agent",
                                           "Cookie", "cookie", "Accept", "accept", "Set-Cookie", "X-Other",
                                           "x-other", "Content-Type", "content-type", "DNT", "dnt", "Dnt"]),
                          st.sampled_from(["a", "b c", "", "d ", "e\t"])), max_size=12))
def test_field_names_keep_their_spelling_and_map_as_node(fields):
    """Usual field names come from a table instead of being decoded: whatever the
    spelling, the raw list keeps it and the map's key is its lower case, repeated fields
    joined as Node joins them (the model here decodes every name)."""
    head = b"GET / HTTP/1.1\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in fields) + b"\r\n"
    rec = HeadRecorder()
    rec.parser = RequestParser(rec)
    rec.parser.feed(head)
    raw = []
    for name, value in fields:
        raw += [name, value.rstrip(" \t")]
    assert rec.events[1][4] == tuple(raw)
    expected = {}
    for name, value in zip(raw[::2], raw[1::2]):
        key = name.lower()
        if key not in expected:
            expected[key] = [value] if key == "set-cookie" else value
        elif key == "set-cookie":
            expected[key].append(value)
        elif key == "cookie":
            expected[key] += "; " + value
        elif key not in ("host", "user-agent", "content-type"):
            expected[key] += ", " + value
    assert rec.maps == [expected]
