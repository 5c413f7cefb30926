"""The request parser on hostile byte streams, without sockets (http/ has no I/O).

Rules under test: a byte stream gives the same messages, body bytes and error code
whether it arrives whole, byte by byte or in random pieces; a ``hold`` stops the feed
only between two messages, and feeding ``held`` later gives exactly the messages a feed
without the hold gives.
"""

import random

import pytest

from prefork.http.errors import ParseError
from prefork.http.parser import RequestParser

P = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
CHUNKED = P + b"Transfer-Encoding: chunked\r\n\r\n"
STREAMS = {
    "CL and TE": P + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE then CL": P + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "conflicting CL": P + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "CL list": P + b"Content-Length: 3, 3\r\n\r\nabc",
    "negative CL": P + b"Content-Length: -1\r\n\r\n",
    "CL with a sign": P + b"Content-Length: +3\r\n\r\nabc",
    "CL past 2**64": P + b"Content-Length: 18446744073709551616\r\n\r\n",
    "TE chunked, identity": P + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE identity, chunked": P + b"Transfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "TE xchunked": P + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "TE obs-fold": P + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "TE twice": P + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunk size past 2**64": CHUNKED + b"1" + b"0" * 16 + b"\r\nabc\r\n",
    "chunk size 2**64-1": CHUNKED + b"f" * 16 + b"\r\nabc",
    "negative chunk size": CHUNKED + b"-3\r\nabc\r\n0\r\n\r\n",
    "chunk size with 0x": CHUNKED + b"0x3\r\nabc\r\n0\r\n\r\n",
    "bare LF after chunk size": CHUNKED + b"3\nabc\r\n0\r\n\r\n",
    "bare LF after chunk data": CHUNKED + b"3\r\nabc\n0\r\n\r\n",
    "chunk extensions": CHUNKED + b"3;a=b;c=\"d\\\"e\"\r\nabc\r\n0;x\r\n\r\n",
    "trailers": CHUNKED + b"3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n",
    "bad trailer": CHUNKED + b"3\r\nabc\r\n0\r\nX T: 1\r\n\r\n",
    "bare LF in the head": b"GET / HTTP/1.1\r\nHost: x\n\r\n",
    "NUL in a name": b"GET / HTTP/1.1\r\nHost: x\r\nX\x00A: 1\r\n\r\n",
    "NUL in a value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "NUL in the target": b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "TLS ClientHello": bytes.fromhex("16030100a5010000a10303") + bytes(32),
    "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    "absolute-form": b"GET http://a.example/b?c HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "asterisk-form": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "body on GET then a request": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                                  b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipeline with bodies": (P + b"Content-Length: 2\r\n\r\nab" + CHUNKED + b"1\r\nc\r\n0\r\n\r\n") * 3,
    "head at the size limit": b"GET / HTTP/1.1\r\nX: " + b"v" * (16384 - 5) + b"\r\n\r\n",
    "head past the size limit": b"GET / HTTP/1.1\r\nX: " + b"v" * (16384 - 2) + b"\r\n\r\n",
}


class Recorder:
    def __init__(self):
        self.events = []

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        self.events.append(("head", method, url, version, tuple(raw), keep_alive, upgrade))

    def on_body(self, body):
        if self.events and self.events[-1][0] == "body":
            self.events[-1] = ("body", self.events[-1][1] + bytes(body))
        else:
            self.events.append(("body", bytes(body)))

    def on_message_complete(self, trailers):
        self.events.append(("end", tuple(trailers or ())))


def run(pieces, hold=None):
    recorder = Recorder()
    parser = RequestParser(recorder)
    parser.hold = hold
    try:
        for piece in pieces:
            while piece:
                if parser.feed(piece) is not None:
                    recorder.events.append(("left http",))
                    return recorder.events
                piece, parser.held = parser.held, b""
    except ParseError as err:
        recorder.events.append(("error", err.code))
    return recorder.events


def splits(data, seed):
    rng = random.Random(seed)
    yield "bytes", [data[i:i + 1] for i in range(len(data))]
    for n in range(12):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 8))))
        yield f"random {n}", [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


@pytest.mark.parametrize("name", list(STREAMS))
def test_any_split_gives_the_same_messages(name):
    data = STREAMS[name]
    whole = run([data])
    for how, pieces in splits(data, name):
        assert run(pieces) == whole, how


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_hold_between_messages_loses_and_adds_nothing(name):
    data = STREAMS[name]
    whole = run([data])
    held_at = []

    def hold():
        held_at.append(True)
        return True  # stop at every message boundary of a read
    assert run([data], hold) == whole
    for how, pieces in splits(data, name):
        assert run(pieces, hold) == whole, how


def test_a_flood_in_one_read_stops_at_the_first_boundary_held():
    recorder = Recorder()
    parser = RequestParser(recorder)
    requests = b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n"
    data = b"".join(requests % i for i in range(1000))
    parser.hold = lambda: sum(1 for e in recorder.events if e[0] == "end") >= 64
    assert parser.feed(data) is None
    assert [e[2] for e in recorder.events if e[0] == "head"] == [f"/{i}" for i in range(64)]
    assert parser.held == data[sum(len(requests % i) for i in range(64)):]
    assert not parser.in_message
