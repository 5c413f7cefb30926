"""Hostile input at the parser's edge, over real sockets where it matters.

- chunk extensions trickled in small reads cost work linear in the bytes received, and
  Node's 16 KiB limit holds at limit-1 / limit / limit+1 however the bytes are split;
- a long pipeline on one connection is never taken for a runaway head;
- a tab after a Content-Length value is refused as Node refuses it;
- the llhttp replay is fenced by a self-test, and errors still surface without it.
"""

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

from prefork.http import errors
from prefork.http.errors import ParseError, extensions_overflow
from prefork.http.parser import RequestParser

CHUNK_EXTENSIONS_LIMIT = 16 * 1024  # Node's kMaxChunkExtensionsSize

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNKED_HEAD = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def connect(st_):
    sock = socket.create_connection(("127.0.0.1", st_.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until(sock, predicate, data=b"", timeout=5):
    deadline = time.monotonic() + timeout
    while not predicate(data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"stuck after {len(data)} bytes: {data[-200:]!r}")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def thread_cpu_seconds(native_id):
    with open(f"/proc/self/task/{native_id}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Recorder:
    def __init__(self):
        self.events = []

    def on_message_begin(self):
        pass

    def on_headers(self, method, url, version, raw, keep_alive, upgrade):
        self.events.append(("head", method, url))

    def on_body(self, body):
        self.events.append(("body", body))

    def on_message_complete(self, trailers):
        self.events.append(("done",))


def feed_pieces(pieces):
    """(events, error): the error as (code, absolute offset) or None."""
    rec = Recorder()
    parser = RequestParser(rec)
    fed = 0
    for piece in pieces:
        try:
            parser.feed(piece)
        except ParseError as err:
            return rec.events, (err.code, fed + err.bytes_parsed)
        fed += len(piece)
    return rec.events, None


# -- 1. chunk extensions ------------------------------------------------------------------
def test_chunk_extension_trickle_costs_linear_work(serve):
    """Each read of a chunked body with extensions used to replay up to 256 KiB of the
    message through llhttp: quadratic. Trickled in lockstep (one small read at a time),
    160 KiB of ``1;a=b`` chunks must cost the worker's loop a small, bounded CPU time,
    and the parser examines no more line bytes than it received."""
    def setup(server, st_):
        def on_request(req, res):
            st_.record("parser", req.socket.protocol.parser)
            req.on("data", lambda chunk: res.write(b"~" * len(chunk)))
            req.on("end", lambda: res.end())
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    piece = b"1;a=b\r\nx\r\n" * 10
    rounds = 160 * 1024 // len(piece)
    sock.sendall(CHUNKED_HEAD + piece)
    data = read_until(sock, lambda d: d.count(b"~") >= 10)
    parser = st_.wait_for(lambda e: e[0] == "parser")[1]
    cpu_before = thread_cpu_seconds(st_.thread.native_id)
    for i in range(2, rounds + 1):
        sock.sendall(piece)  # the next piece only after the last one was consumed
        data = read_until(sock, lambda d: d.count(b"~") >= 10 * i, data)
    cpu = thread_cpu_seconds(st_.thread.native_id) - cpu_before
    sock.sendall(b"0\r\n\r\n")
    data = read_until(sock, lambda d: d.endswith(b"0\r\n\r\n"), data)
    assert data.count(b"~") == 10 * rounds
    # linear: ~0.05 s here; the replay took ~6 s (quadratic in the body size)
    assert cpu < 1.0, f"{cpu:.2f} s of loop CPU for {len(piece) * rounds} trickled bytes"
    assert parser.extension_bytes_scanned <= len(piece) * rounds + 5
    sock.close()


def _line(name_bytes):
    return CHUNKED_HEAD + b"1;" + b"e" * name_bytes + b"\r\nx\r\n0\r\n\r\n"


@pytest.mark.parametrize("counted", [CHUNK_EXTENSIONS_LIMIT - 1, CHUNK_EXTENSIONS_LIMIT,
                                     CHUNK_EXTENSIONS_LIMIT + 1])
def test_chunk_extensions_limit_at_every_split(counted):
    """limit-1 / limit / limit+1 extension bytes, one split at (nearly) every offset: the
    offset is Node's: the byte after the CR that ends the name, or the end of a read
    that already holds more than the limit (checked against Node in test_fuzz.py)."""
    data = _line(counted)
    name_start = len(CHUNKED_HEAD) + 2
    name_end = name_start + counted
    offsets = set(range(1, 80)) | set(range(len(data) - 40, len(data)))
    offsets |= set(range(name_end - 40, name_end + 3)) | set(range(80, len(data), 97))
    for split in sorted(offsets):
        events, error = feed_pieces([data[:split], data[split:]])
        if counted <= CHUNK_EXTENSIONS_LIMIT:
            assert error is None and events[-1] == ("done",), split
        else:
            expected = name_end if split == name_end else name_end + 1
            assert error == ("HPE_CHUNK_EXTENSIONS_OVERFLOW", expected), split
            assert ("done",) not in events


def test_chunk_extension_count_matches_llhttp_replay():
    """Random extension lines (names, plain and quoted values, escapes, ';' and '=' in
    quotes) around the limit, split at random: the incremental count gives the same error
    and offset as replaying the bytes through llhttp with Node's callbacks."""
    if extensions_overflow(_line(CHUNK_EXTENSIONS_LIMIT + 1), CHUNK_EXTENSIONS_LIMIT) is None:
        pytest.skip("the llhttp replay is not available")
    rng = random.Random(7)
    for _ in range(150):
        lines = []
        for _ in range(rng.randint(1, 3)):
            budget = rng.choice([CHUNK_EXTENSIONS_LIMIT - 1, CHUNK_EXTENSIONS_LIMIT,
                                 CHUNK_EXTENSIONS_LIMIT + 1, CHUNK_EXTENSIONS_LIMIT + 2, 50])
            exts = []
            while budget > 0:
                n = rng.randint(0, budget)
                budget -= n
                kind = rng.random()
                if kind < 0.4:
                    exts.append(b";" + b"n" * n)
                elif kind < 0.7:
                    exts.append(b";" + b"k" * rng.randint(0, 3) + b"=" + b"v" * n)
                else:
                    inner = b"q" * max(0, n - 2)
                    if rng.random() < 0.4:
                        inner = inner[:len(inner) // 2] + b'\\";=' + inner[len(inner) // 2:]
                    exts.append(b';k="' + inner + b'"')
            size = rng.randint(1, 5)
            lines.append(b"%x" % size + b"".join(exts) + b"\r\n" + b"d" * size + b"\r\n")
        data = CHUNKED_HEAD + b"".join(lines) + b"0\r\n\r\n"
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(0, 6)))
        pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
        expected = None
        seen = b""
        for piece in pieces:  # the replay, read by read, from the message start
            seen += piece
            offset = extensions_overflow(seen, CHUNK_EXTENSIONS_LIMIT)
            if offset is not None:
                expected = ("HPE_CHUNK_EXTENSIONS_OVERFLOW", offset)
                break
        assert feed_pieces(pieces)[1] == expected, [len(p) for p in pieces]


@pytest.mark.parametrize("counted,status", [(CHUNK_EXTENSIONS_LIMIT, b"200"),
                                            (CHUNK_EXTENSIONS_LIMIT + 1, b"413")])
def test_chunk_extensions_limit_over_a_socket(serve, counted, status):
    def setup(server, st_):
        def on_request(req, res):
            req.on("data", lambda chunk: None)
            req.on("end", lambda: res.end("ok"))
        server.on("request", on_request)
    st_ = serve(setup)
    sock = connect(st_)
    data = _line(counted)
    for i in range(0, len(data), 4000):
        sock.sendall(data[i:i + 4000])
    reply = read_until(sock, lambda d: b"\r\n\r\n" in d)
    assert reply.startswith(b"HTTP/1.1 " + status)
    sock.close()


# -- 3. long pipelines ----------------------------------------------------------------------
def test_3000_pipelined_requests_all_answered(serve):
    """The runaway-head guard counted every byte since the last read that started between
    messages: a pipeline whose reads all end inside a request hit HPE_HEADER_OVERFLOW
    after 128 KiB. The client writes in 1000-byte pieces (never on a request boundary)
    while it reads the responses; all 3,000 are answered, as Node answers them."""
    def setup(server, st_):
        server.on("request", lambda req, res: res.end(req.url))
    st_ = serve(setup)
    sock = connect(st_)
    requests = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\nUser-Agent: pipeline-test/1.0\r\n"
                        b"Accept: */*\r\nAccept-Language: en\r\n\r\n" % i for i in range(3000))
    assert len(requests) > 256 * 1024
    received = []

    def reader():
        data = b""
        try:
            data = read_until(sock, lambda d: d.count(b"HTTP/1.1 200 OK") >= 3000 or b" 431 " in d,
                              timeout=30)
        except (OSError, TimeoutError):
            pass
        received.append(data)
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(0, len(requests), 1000):
            sock.sendall(requests[i:i + 1000])
    except OSError:
        pass  # the server closed the connection: the count below tells
    thread.join(35)
    data = received[0]
    assert data.count(b"HTTP/1.1 200 OK") == 3000, data[-300:]
    assert data.endswith(b"\r\n\r\n/2999")
    sock.close()


# -- 13. a tab after Content-Length ---------------------------------------------------------
def test_content_length_with_a_trailing_tab_is_refused_like_node(serve):
    """Node 20 (llhttp 9.3.1) refuses ``Content-Length: 5<TAB>`` with
    HPE_INVALID_CONTENT_LENGTH at the tab (bytesParsed 43 here); a trailing space is fine."""
    def setup(server, st_):
        server.on("request", lambda req, res: res.end("len " + req.headers["content-length"]))

        def on_client_error(err, sock):
            st_.record("clientError", err.code, err.bytes_parsed)
            sock.destroy()
        server.on("clientError", on_client_error)
    st_ = serve(setup)
    sock = connect(st_)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\t\r\n\r\nhello")
    assert st_.wait_for(lambda e: e[0] == "clientError")[1:] == ("HPE_INVALID_CONTENT_LENGTH", 43)
    sock.close()
    sock = connect(st_)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \r\n\r\nhello")
    assert read_until(sock, lambda d: d.endswith(b"len 5")).startswith(b"HTTP/1.1 200 OK")
    sock.close()


def test_content_length_tab_without_listener_gets_400(serve):
    st_ = serve(lambda server, st_: server.on("request", lambda req, res: res.end("no")))
    sock = connect(st_)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5 \t\r\n\r\nhello")
    reply = read_until(sock, lambda d: False)
    assert reply == b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
    sock.close()


# -- 12. the llhttp replay, fenced ----------------------------------------------------------
def test_replay_self_test_refuses_another_layout():
    """llhttp 8.x / 9.2 have no on_protocol slot: every later slot is one lower. Told that
    layout, the self-test sees the wrong spans and refuses to load."""
    if not errors.replay_available():
        pytest.skip("the llhttp replay is not available")
    errors.LLHTTPReplay()  # the real layout passes
    shifted = {name: slot - 1 if slot > 1 else slot for name, slot in errors.LLHTTP_9_3_SLOTS.items()}
    with pytest.raises(errors.ReplayUnavailable):
        errors.LLHTTPReplay(slots=shifted)


def test_errors_surface_without_the_replay():
    """PREFORK_LLHTTP_REPLAY=off: codes come from llhttp's reason text, a 4xx goes out."""
    env = dict(os.environ, PREFORK_LLHTTP_REPLAY="off")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fallback_server.py")], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        assert proc.stdout.readline().strip() == "replay False"
        cases = [
            (b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", "HPE_INVALID_METHOD", b"400"),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", "HPE_INVALID_CONTENT_LENGTH", b"400"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * 17000 + b"\r\n\r\n", "HPE_HEADER_OVERFLOW", b"431"),
            (_line(CHUNK_EXTENSIONS_LIMIT + 1), "HPE_CHUNK_EXTENSIONS_OVERFLOW", b"413"),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\t\r\n\r\nhello", "HPE_INVALID_CONTENT_LENGTH",
             b"400"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HPE_INVALID_CHUNK_SIZE",
             b"400"),
        ]
        for data, code, status in cases:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(data)
            reply = read_until(sock, lambda d: False)
            sock.close()
            line = json.loads(proc.stdout.readline())
            assert line["code"] == code
            assert isinstance(line["bytes_parsed"], int) and 0 <= line["bytes_parsed"] <= len(data)
            assert reply.startswith(b"HTTP/1.1 " + status), reply
        # a good request still works on the same server
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until(sock, lambda d: False).endswith(b"ok")
        sock.close()
    finally:
        proc.kill()
        proc.wait(5)


def test_http10_keep_alive_token_then_tab_closes_like_node(serve):
    """Node 20 ignores ``keep-alive<TAB>`` in Connection: an HTTP/1.0 request with it is
    answered with Connection: close and the connection ends (httptools' llhttp alone
    would keep it alive)."""
    st_ = serve(lambda server, st_: server.on("request", lambda req, res: res.end("hi")))
    sock = connect(st_)
    sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\t\r\n\r\n")
    reply = read_until(sock, lambda d: False)  # until the server closes
    assert reply.startswith(b"HTTP/1.1 200 OK") and b"Connection: close\r\n" in reply
    sock.close()


@pytest.mark.parametrize("value,keep_alive", [(b"keep-alive\t", False), (b"keep-alive \t", False),
                                              (b"keep-alive\t, foo", False), (b"keep-alive ", True),
                                              (b"foo\t, keep-alive", True), (b"\tkeep-alive", True)])
def test_http10_keep_alive_reading_matches_node(value, keep_alive):
    """The values above, as Node 20 reads them (checked against node in test_fuzz.py)."""
    heads = []

    class Heads(Recorder):
        def on_headers(self, method, url, version, raw, keep, upgrade):
            heads.append(keep)
    parser = RequestParser(Heads())
    parser.feed(b"GET / HTTP/1.0\r\nConnection: " + value + b"\r\n\r\n")
    assert heads == [keep_alive]
    if not keep_alive:
        with pytest.raises(ParseError) as err:
            parser.feed(b"GET / HTTP/1.0\r\n\r\n")
        assert err.value.code == "HPE_CLOSED_CONNECTION"
