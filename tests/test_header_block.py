"""HeaderBlock and ServerResponse.end_with: the bytes on the wire are those of the slow
path (set_header for each field, then end(body)), whatever the case.

A real server on a loop thread; each case is answered twice on fresh loopback
connections, once with ``end_with`` and once field by field, and the two responses are
compared byte for byte with the Date value masked.
"""

import itertools
import os
import re
import socket
import threading

import pytest

import prefork
from prefork.http.serialize import HeaderBlock, HeaderError
from prefork.runtime import new_event_loop

BODY = b"Hello, World!"
HEADER_LISTS = [
    [],
    [("Content-Type", "text/plain")],
    [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    [("Content-Length", "5")],
    [("X-A", "1"), ("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("x-b", "2")],
    [("X-Multi", ("a", "b")), ("X-Num", 7)],
    [(b"x-latin", b"caf\xe9")],
    [("Connection", "close")],
    [("Connection", "keep-alive"), ("Content-Length", "13")],
    [("Transfer-Encoding", "chunked")],
    [("Date", "yesterday")],
    [("Keep-Alive", "timeout=1")],
]
STATUSES = [(200, None), (404, None), (201, "Made"), (200, "OK"), (299, None), (204, None), (304, None)]
REQUESTS = {
    "get11": "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
    "head11": "HEAD {} HTTP/1.1\r\nHost: x\r\n\r\n",
    "get10": "GET {} HTTP/1.0\r\n\r\n",
    "get10ka": "GET {} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "close11": "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "expect11": "POST {} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
}


def text(item):
    return item.decode("latin-1") if type(item) is bytes else item


def answer(res, mode, status, reason, pairs, body):
    if mode == "fast":
        res.end_with(status, HeaderBlock.from_pairs(pairs), body, reason)
        return
    res.status_code = status
    if reason is not None:
        res.status_message = reason
    for name, value in pairs:
        res.set_header(text(name), text(value))
    res.end(body)


class Rig:
    def __init__(self):
        self.cases = {}
        self.loop = new_event_loop(os.environ.get("PREFORK_TEST_LOOP", "asyncio"))
        self.server = prefork.create_server(self.on_request, loop=self.loop)
        self.server.listen(0)
        self.port = self.server.address()["port"]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def on_request(self, req, res):
        self.cases[req.url](req, res)

    def on_loop(self, fn):
        done = threading.Event()
        self.loop.call_soon_threadsafe(lambda: (fn(), done.set()))
        assert done.wait(30), "the loop thread did not answer"

    def close(self):
        self.on_loop(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()

    def exchange(self, raw, count=1):
        """Send ``raw``; the ``count`` responses' bytes (Date masked)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(raw)
            reader = Reader(sock)
            return [mask(reader.response(head="HEAD " in raw.decode())) for _ in range(count)]


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.data = b""

    def fill(self):
        chunk = self.sock.recv(65536)
        self.data += chunk
        return bool(chunk)

    def response(self, head):
        while True:
            end = self.data.find(b"\r\n\r\n")
            if end >= 0:
                status = int(self.data[9:12])
                if status >= 200 or status == 101:
                    break
                self.data = self.data[end + 4:]  # an interim response
                continue
            assert self.fill(), f"closed before a head: {self.data!r}"
        head_bytes = self.data[:end + 4]
        fields = {line.split(b":", 1)[0].lower(): line.split(b":", 1)[1].strip()
                  for line in head_bytes.split(b"\r\n")[1:] if b":" in line}
        rest = end + 4
        if head or status in (204, 304):
            size = 0
        elif b"content-length" in fields:
            size = int(fields[b"content-length"])
        elif fields.get(b"transfer-encoding") == b"chunked":
            while b"0\r\n\r\n" not in self.data[rest:]:
                assert self.fill(), "closed inside a chunked body"
            size = self.data.index(b"0\r\n\r\n", rest) + 5 - rest
        else:
            while self.fill():
                pass
            size = len(self.data) - rest
        while len(self.data) < rest + size:
            if not self.fill():
                break  # a Content-Length the body does not fill: what came
        out, self.data = self.data[:rest + size], self.data[rest + size:]
        return out


def mask(data):
    return re.sub(rb"Date: [^\r]*\r\n", b"Date: X\r\n", data)


@pytest.fixture(scope="module")
def rig():
    rig = Rig()
    yield rig
    rig.close()


def run_case(rig, kind, status, reason, pairs, body):
    for name, value in pairs:
        if text(name).lower() == "content-length":
            body = (BODY * 2)[:int(text(value))]  # a body that fills it (the reader relies on it)
    wire = {}
    for mode in ("fast", "slow"):
        url = f"/{len(rig.cases)}"
        rig.cases[url] = lambda req, res, mode=mode: answer(res, mode, status, reason, pairs, body)
        wire[mode] = rig.exchange(REQUESTS[kind].format(url).encode())[0]
    return wire


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_fast_and_slow_paths_send_the_same_bytes(rig, kind):
    seen = 0
    for pairs, (status, reason), body in itertools.product(HEADER_LISTS, STATUSES, (BODY, b"")):
        wire = run_case(rig, kind, status, reason, pairs, body)
        assert wire["fast"] == wire["slow"], (kind, pairs, status, reason, body)
        assert wire["fast"].startswith(b"HTTP/1.1 %d " % status)
        seen += 1
    assert seen == len(HEADER_LISTS) * len(STATUSES) * 2


def test_application_lines_come_first_then_date_connection_keep_alive_length(rig):
    pairs = [("X-First", "1"), ("content-type", "text/plain"), ("X-Last", "2")]
    wire = run_case(rig, "get11", 200, None, pairs, BODY)["fast"]
    lines = wire.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert [line.split(b":")[0] for line in lines[1:]] == [
        b"X-First", b"content-type", b"X-Last", b"Date", b"Connection", b"Keep-Alive", b"Content-Length"]
    assert wire.endswith(b"Content-Length: 13\r\n\r\nHello, World!")


def test_keep_alive_knobs_changed_between_responses(rig):
    pairs = [("Content-Type", "text/plain")]
    try:
        for timeout, cap in ((5, None), (7, 100), (0, None)):
            def knobs(timeout=timeout, cap=cap):
                rig.server.keep_alive_timeout = timeout
                rig.server.max_requests_per_socket = cap
            rig.on_loop(knobs)
            wire = run_case(rig, "get11", 200, None, pairs, BODY)
            assert wire["fast"] == wire["slow"]
            if timeout:
                assert (b"Keep-Alive: timeout=%d" % timeout) in wire["fast"]
            else:
                assert b"Keep-Alive" not in wire["fast"]
    finally:
        rig.on_loop(lambda: (setattr(rig.server, "keep_alive_timeout", 5),
                             setattr(rig.server, "max_requests_per_socket", None)))


def test_a_pipelined_response_waits_for_the_one_ahead(rig):
    """The second response is answered first (it waits in its response), then the first."""
    pairs = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    wire = {}
    for mode in ("fast", "slow"):
        held = []
        first, second = f"/{len(rig.cases)}", f"/{len(rig.cases) + 1}"
        rig.cases[first] = lambda req, res: held.append(res)

        def answer_second(req, res, mode=mode, held=held):
            answer(res, mode, 201, None, pairs, b"second-body..")
            assert not res.active and held
            answer(held[0], mode, 200, None, pairs, BODY)
        rig.cases[second] = answer_second
        raw = (REQUESTS["get11"].format(first) + REQUESTS["get11"].format(second)).encode()
        wire[mode] = rig.exchange(raw, count=2)
    assert wire["fast"] == wire["slow"]
    assert wire["fast"][0].startswith(b"HTTP/1.1 200 OK") and wire["fast"][1].startswith(b"HTTP/1.1 201 Created")


def test_max_requests_per_socket_reached(rig):
    pairs = [("Content-Type", "text/plain")]
    rig.on_loop(lambda: setattr(rig.server, "max_requests_per_socket", 1))
    try:
        wire = run_case(rig, "get11", 200, None, pairs, BODY)
    finally:
        rig.on_loop(lambda: setattr(rig.server, "max_requests_per_socket", None))
    assert wire["fast"] == wire["slow"]
    assert b"Connection: close\r\n" in wire["fast"]


def test_the_block_holds_the_encoded_lines_and_flags():
    block = HeaderBlock.from_pairs([(b"content-type", b"text/plain"), ("X-A", "1"), ("x-a", "2"),
                                    ("Content-Length", "13")])
    assert block.data == b"content-type: text/plain\r\nx-a: 2\r\nContent-Length: 13\r\n"
    assert block.plain and block.has_length
    assert block.pairs == (("content-type", "text/plain"), ("x-a", "2"), ("Content-Length", "13"))
    assert HeaderBlock.from_pairs([("X", ("a", "b"))]).data == b"X: a\r\nX: b\r\n"
    for name in ("Connection", "transfer-encoding", "DATE", "Keep-Alive"):
        block = HeaderBlock.from_pairs([(name, "x")])
        assert not block.plain and not block.has_length


BAD = [
    [("Bad Name", "x")],
    [("", "x")],
    [(7, "x")],
    [("X-A", "ok"), ("X-B", "new\r\nline")],
    [("X-A", None)],
    [("X-A", ("ok", "bad\x00"))],
    [("X-A", "\u0100")],
]


@pytest.mark.parametrize("pairs", BAD)
def test_bad_fields_raise_what_set_header_raises(rig, pairs):
    with pytest.raises(HeaderError) as block_error:
        HeaderBlock.from_pairs(pairs)
    errors = []

    def on_request(req, res):
        try:
            for name, value in pairs:
                res.set_header(name, value)
        except HeaderError as exc:
            errors.append(exc)
        res.end()
    url = f"/{len(rig.cases)}"
    rig.cases[url] = on_request
    assert rig.exchange(REQUESTS["get11"].format(url).encode())[0].startswith(b"HTTP/1.1 200 OK")
    assert len(errors) == 1
    assert (errors[0].code, str(errors[0])) == (block_error.value.code, str(block_error.value))


def test_the_common_answer_takes_the_fast_path(rig, monkeypatch):
    """A plain block on a kept-alive GET sets no header field by field; a block with
    Connection (or a HEAD) goes field by field."""
    from prefork.server.response import ServerResponse
    calls = []
    original = ServerResponse.set_header
    monkeypatch.setattr(ServerResponse, "set_header",
                        lambda self, name, value: (calls.append(name), original(self, name, value))[1])
    plain = [("Content-Type", "text/plain"), ("Content-Length", "13")]
    for kind, pairs, expected in (("get11", plain, []), ("head11", plain, ["Content-Type", "Content-Length"]),
                                  ("get11", [("Connection", "close")], ["Connection"])):
        del calls[:]
        url = f"/{len(rig.cases)}"
        rig.cases[url] = lambda req, res, pairs=pairs: answer(res, "fast", 200, None, pairs, BODY)
        assert rig.exchange(REQUESTS[kind].format(url).encode())[0].startswith(b"HTTP/1.1 200 OK")
        assert calls == expected, kind


WSGI_LISTS = [
    [],
    [("Content-Type", "text/plain"), ("Content-Length", "13")],
    [("Content-Length", "13"), ("content-length", "13")],
    [("Set-Cookie", "a=1"), ("X-A", "1"), ("set-cookie", "b=2"), ("Content-Length", "13")],
    [("Connection", "close"), ("Content-Type", "text/plain")],
    [("Date", "yesterday")],
    [("Keep-Alive", "timeout=1"), ("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")],
]
WSGI_STATUSES = ["200 OK", "404 Not Found", "201 Made", "299 Odd", "204 No Content"]


def test_wsgi_whole_bodies_send_what_the_field_by_field_head_sends(rig, serve):
    """The WSGI loop path (blocks, end_with) against the head set field by field
    (``apply_head`` then ``end``, the path every whole body took before)."""
    from prefork.wsgi import WSGIAdapter
    from prefork.wsgi.head import apply_head
    table = {}

    def app(environ, start_response):
        status, headers = table[environ["PATH_INFO"]]
        start_response(status, list(headers))
        return [BODY]
    st_ = serve(lambda server, st_: WSGIAdapter(app).setup(server))
    compared = 0
    for headers, status, kind in itertools.product(WSGI_LISTS, WSGI_STATUSES, ("get11", "get10", "close11")):
        for round_ in range(2):  # the second time from the kept block
            url = f"/{len(rig.cases)}"
            table[url] = (status, headers)
            # the app's Content-Length is left to the response only where it writes one
            # (not for an HTTP/1.0 client that does not read chunked)
            rig.cases[url] = lambda req, res, status=status, headers=headers: (
                apply_head(res, status, headers, {}, len(BODY) if res.can_chunk else None), res.end(BODY))
            raw = REQUESTS[kind].format(url).encode()
            slow = rig.exchange(raw)[0]
            with socket.create_connection(("127.0.0.1", st_.port), timeout=30) as sock:
                sock.sendall(raw)
                fast = mask(Reader(sock).response(head=False))
            assert fast == slow, (headers, status, kind)
            compared += 1
    assert compared == len(WSGI_LISTS) * len(WSGI_STATUSES) * 3 * 2


ASGI_LISTS = [
    [],
    [(b"content-type", b"text/plain"), (b"content-length", b"13")],
    [(b"set-cookie", b"a=1"), (b"x-a", b"1"), (b"Set-Cookie", b"b=2")],
    [(b"connection", b"close"), (b"content-type", b"text/plain")],
    [(b"date", b"yesterday")],
    [(b"transfer-encoding", b"chunked")],
]


def test_asgi_start_and_one_body_send_what_the_field_by_field_head_sends(rig, serve):
    """The ASGI adapter (a kept HeaderBlock, end_with) against its fields set one by one
    then ``end(body)`` (the path every response took before)."""
    from prefork.asgi import ASGIAdapter
    from prefork.asgi.http import response_fields
    table = {}

    async def app(scope, receive, send):
        status, headers = table[scope["path"]]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})

    def setup(server, st_):
        server.loop.run_until_complete(ASGIAdapter(app, lifespan="off").setup(server).startup())
    st_ = serve(setup)
    compared = 0
    for headers, status, kind in itertools.product(ASGI_LISTS, (200, 404, 299, 204), ("get11", "head11", "get10")):
        for round_ in range(2):  # the second time from the kept block
            url = f"/{len(rig.cases)}"
            table[url] = (status, headers)
            rig.cases[url] = lambda req, res, status=status, headers=headers: answer(
                res, "slow", status, None, response_fields(headers), BODY)
            raw = REQUESTS[kind].format(url).encode()
            slow = rig.exchange(raw)[0]
            with socket.create_connection(("127.0.0.1", st_.port), timeout=30) as sock:
                sock.sendall(raw)
                fast = mask(Reader(sock).response(head=kind == "head11"))
            assert fast == slow, (headers, status, kind)
            compared += 1
    assert compared == len(ASGI_LISTS) * 4 * 3 * 2
