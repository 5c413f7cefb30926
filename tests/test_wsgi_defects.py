"""WSGI apps against the real daemon, on the loop (``threads = 1``) and on a thread pool
(``threads = 4``): what an app says in its head about the connection, and what reaches the
client of a response the app gets wrong.

One daemon per mode serves the app below (this module, loaded by the worker); the
clients are raw sockets on loopback.
"""

import gzip
import os
import re
import socket
import threading
import time
import urllib.parse
import uuid

import pytest

from daemon import Daemon
from harness import read_until_close

# -- the app (runs in the worker) -----------------------------------------------------------------------
_LOCK = threading.Lock()
_CLOSES = {}
_BARRIERS = {}
_OUTCOMES = {}
_PLAIN = b"".join(b"line %d of the text\n" % i for i in range(5000))


ONE_BLOCK = 12 * 1024 * 1024  # more than loopback's kernel buffers take, less than a worker holds


class _Endless:
    """A body without end (a stream), its ``close()`` calls counted under ``token``."""

    def __init__(self, token):
        self.token = token

    def __iter__(self):
        while True:
            yield b"x" * 4096

    def close(self):
        with _LOCK:
            _CLOSES[self.token] = _CLOSES.get(self.token, 0) + 1


class _Text(str):
    """A framework's string type: a str subclass."""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = urllib.parse.unquote(environ["QUERY_STRING"])
    plain = [("Content-Type", "text/plain")]
    if path == "/closes":
        with _LOCK:
            body = str(_CLOSES.get(query, 0)).encode()
        start_response("200 OK", plain)
        return [body]
    if path == "/connection":  # the app says what its connection should do: VALUE[~gen]
        value, _, shape = query.partition("~")
        start_response("200 OK", plain + [("Connection", v) for v in value.split("|")])
        return iter([b"conn", b"ection"]) if shape == "gen" else [b"connection"]
    if path == "/write-then-file":  # write() starts the body, a file wrapper is the rest: [length]
        size = os.path.getsize(__file__)
        write = start_response("200 OK", plain + ([("Content-Length", str(5 + size))] if query == "length" else []))
        write(b"first")
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    if path == "/compressed":  # a GzipFile (its fileno() is the compressed file's) in a file wrapper
        name = os.path.abspath("app-compressed.gz")  # in the daemon's own temporary directory
        if not os.path.exists(name):
            with gzip.open(name + ".part", "wb") as fh:
                fh.write(_PLAIN)
            os.replace(name + ".part", name)
        start_response("200 OK", plain)
        return environ["wsgi.file_wrapper"](gzip.open(name, "rb"))
    if path == "/status-subclass":  # the status a str subclass (a framework's lazy or marked-up string)
        start_response(_Text("202 Accepted"), [(_Text("X-Kind"), _Text("subclass"))])
        return iter([b"accepted"]) if query == "gen" else [b"accepted"]
    if path == "/one-block":  # a response larger than loopback's kernel buffers take, in one block
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(ONE_BLOCK))])
        return iter([b"b" * ONE_BLOCK])
    if path == "/raise-midway":  # the head and a first block out, then the app fails
        def failing():
            yield b"first block"
            raise RuntimeError("failed midway " + query)
        start_response("200 OK", plain)
        return failing()
    if path == "/short":  # a streamed body shorter than its Content-Length (in one block: a thread
        start_response("200 OK", plain + [("Content-Length", "100")])  # hands it over without waiting)
        return iter([b"first block"])
    if path == "/ran":  # a pipelined request with an effect: counted when it runs
        with _LOCK:
            _CLOSES["ran-" + query] = _CLOSES.get("ran-" + query, 0) + 1
        start_response("200 OK", plain)
        return [b"ran"]
    if path == "/barrier":  # PARTIES-TOKEN: answers once PARTIES calls are in at once (every thread busy)
        parties, _, token = query.partition("-")
        with _LOCK:
            barrier = _BARRIERS.setdefault(token, threading.Barrier(int(parties), timeout=10))
        barrier.wait()
        start_response("200 OK", plain)
        return [b"met"]
    if path == "/over-forever":  # a Content-Length of 10 and a body that never ends
        start_response("200 OK", plain + [("Content-Length", "10")])
        return _Endless("over-" + query)
    if path == "/endless":  # STATUS-TOKEN: a stream without end (server-sent events, say)
        status, _, token = query.partition("-")
        start_response(status + " Whatever", [("Content-Type", "text/event-stream")])
        return _Endless("endless-" + token)
    if path == "/write-blocks":  # the legacy write() five times, a moment apart: TOKEN
        write = start_response("200 OK", plain)
        outcome = "ok"
        try:
            for _ in range(5):
                write(b"block")
                time.sleep(0.02)  # (the loop takes the block meanwhile)
        except OSError as exc:
            outcome = type(exc).__name__
        with _LOCK:
            _OUTCOMES[query] = outcome
        return []
    if path == "/outcome":
        with _LOCK:
            body = _OUTCOMES.get(query, "none").encode()
        start_response("200 OK", plain)
        return [body]
    if path == "/errors":  # wsgi.errors written in pieces, as print() and tracebacks write: TOKEN~shape
        token, _, shape = query.partition("~")
        errors = environ["wsgi.errors"]
        print("printed", token, 42, file=errors)
        errors.write("in ")
        errors.write("pieces " + token + "\n")
        errors.writelines(["two ", "lines " + token + "\nsecond ", "line " + token + "\n"])
        errors.write("unended " + token)  # no newline, no flush: logged when the call ends
        start_response("200 OK", plain)
        return iter([b"logged"]) if shape == "gen" else [b"logged"]
    start_response("404 Not Found", plain)
    return [b"not here"]


# -- the daemons -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 4], ids=["loop", "threads"])
def d(request):
    daemon = Daemon("--interface", "wsgi", "--threads", str(request.param), "--max-requests-per-socket", "3",
                    "--keep-alive-timeout", "30", "--timeout", "6",
                    app="test_wsgi_defects:app", workers=1)
    try:
        daemon.wait_ready()
        daemon.threads = request.param
        yield daemon
    finally:
        daemon.cleanup()
        for name in os.listdir(daemon.tmp):
            if name.startswith("app-"):
                os.unlink(os.path.join(daemon.tmp, name))


def connect(d, timeout=3):
    return socket.create_connection(("127.0.0.1", d.port), timeout=timeout)


def request(path, version=b"1.1", extra=b""):
    return b"GET " + path + b" HTTP/" + version + b"\r\nHost: x\r\n" + extra + b"\r\n"


def head_of(data):
    return data.partition(b"\r\n\r\n")[0].lower()


# -- Connection from the app -----------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["keep-alive", "Keep-Alive", "upgrade", "foo, bar", "keep-alive|keep-alive"])
@pytest.mark.parametrize("shape", ["list", "gen"])
@pytest.mark.parametrize("client", ["close", "http/1.0"])
def test_an_apps_connection_header_never_keeps_open_a_connection_the_client_closes(d, value, shape, client):
    """A client that says ``Connection: close`` (or speaks HTTP/1.0 without keep-alive)
    gets its connection closed after the response, whatever the app's Connection says;
    the head does not claim keep-alive. (A client reading to the close would otherwise
    wait for the keep-alive timeout.)"""
    path = b"/connection?" + urllib.parse.quote(value + "~" + shape).encode()
    raw = request(path, b"1.0") if client == "http/1.0" else request(path, extra=b"Connection: close\r\n")
    sock = connect(d)
    try:
        sock.sendall(raw)
        data = read_until_close(sock)  # the socket's timeout is the deadline
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert data.endswith(b"connection") or data.endswith(b"0\r\n\r\n"), data
    assert b"keep-alive" not in head_of(data), data


@pytest.mark.parametrize("shape", ["list", "gen"])
def test_an_apps_keep_alive_does_not_outlast_max_requests_per_socket(d, shape):
    """The third response on a connection (max_requests_per_socket 3) says
    ``Connection: close``, also when the app's head says keep-alive."""
    path = b"/connection?" + urllib.parse.quote("keep-alive~" + shape).encode()
    sock = connect(d)
    try:
        sock.sendall(request(path) * 3)
        data = b""
        while data.count(b"HTTP/1.1 200 ") < 3 or not data.endswith((b"connection", b"0\r\n\r\n")):
            chunk = sock.recv(65536)  # the socket's timeout is the deadline
            assert chunk, data
            data += chunk
    finally:
        sock.close()
    last = data.rpartition(b"HTTP/1.1 200 ")[2]
    assert b"connection: close" in head_of(last), data
    assert b"keep-alive" not in head_of(last), data


@pytest.mark.parametrize("shape", ["list", "gen"])
def test_an_apps_connection_close_still_closes(d, shape):
    path = b"/connection?" + urllib.parse.quote("close~" + shape).encode()
    sock = connect(d)
    try:
        sock.sendall(request(path) + request(b"/closes?x"))
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.count(b"HTTP/1.1 200 ") == 1, data
    assert b"connection: close" in head_of(data), data


def test_a_connection_value_with_a_line_break_is_still_an_app_error(d):
    path = b"/connection?" + urllib.parse.quote("keep-alive\r\nX-Injected: 1").encode()
    sock = connect(d)
    try:
        sock.sendall(request(path, extra=b"Connection: close\r\n"))
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 500 "), data
    assert b"x-injected" not in data.lower(), data


# -- write() and then a file ----------------------------------------------------------------------------
class Reader:
    """Responses read one at a time off a kept-alive connection (Content-Length or chunked)."""

    def __init__(self, sock):
        self.sock = sock
        self.data = b""

    def _until(self, marker):
        while marker not in self.data:
            chunk = self.sock.recv(65536)  # the socket's timeout is the deadline
            assert chunk, self.data
            self.data += chunk
        taken, _, self.data = self.data.partition(marker)
        return taken

    def _exactly(self, size):
        while len(self.data) < size:
            chunk = self.sock.recv(65536)
            assert chunk, self.data
            self.data += chunk
        taken, self.data = self.data[:size], self.data[size:]
        return taken

    def response(self):
        head = self._until(b"\r\n\r\n")
        match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        if match:
            return head, self._exactly(int(match.group(1)))
        body = b""
        while True:
            size = int(self._until(b"\r\n"), 16)
            body += self._exactly(size)
            self._exactly(2)
            if size == 0:
                return head, body


@pytest.mark.parametrize("query", [b"length", b"none"])
def test_a_file_wrapper_after_write_is_the_rest_of_the_body(d, query):
    """``write(b"first")`` then ``wsgi.file_wrapper(file)``: the client gets both, with or
    without the app's Content-Length, and the connection stays usable (the file is not
    sent as if it were the whole body)."""
    with open(__file__, "rb") as fh:
        expected = b"first" + fh.read()
    sock = connect(d)
    try:
        sock.sendall(request(b"/write-then-file?" + query) + request(b"/closes?x"))
        reader = Reader(sock)
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert body == expected
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        sock.close()
    assert "less than its Content-Length" not in d.log()


# -- wsgi.errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["list", "gen"])
def test_wsgi_errors_logs_whole_lines_not_the_pieces_they_were_written_in(d, shape):
    """``print(a, b, file=wsgi.errors)`` is one log record, as it is one line (the
    writes of its pieces are not records of their own); a line left without its newline
    is logged when the call ends."""
    token = uuid.uuid4().hex
    sock = connect(d)
    try:
        sock.sendall(request(b"/errors?" + token.encode() + b"~" + shape.encode(), extra=b"Connection: close\r\n"))
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200 "), data
    expected = [f"printed {token} 42", f"in pieces {token}", f"two lines {token}", f"second line {token}",
                f"unended {token}"]
    d.wait_log(re.escape(f"prefork.wsgi: unended {token}"), timeout=5)
    records = [record for record in re.split(r"\n(?=\d{4}-\d\d-\d\d )", d.log()) if token in record]
    assert [record.split("prefork.wsgi: ", 1)[1].rstrip("\n") for record in records] == expected, records


# -- a file wrapper whose descriptor is not what it reads ----------------------------------------------
def test_a_gzip_file_in_a_file_wrapper_sends_what_it_reads(d):
    """``wsgi.file_wrapper(gzip.open(path))``: the client gets the text the file reads,
    not the compressed bytes its ``fileno()`` holds."""
    sock = connect(d)
    try:
        sock.sendall(request(b"/compressed") + request(b"/closes?x"))
        reader = Reader(sock)
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert body == _PLAIN
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        sock.close()


# -- a status that is a str subclass ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["list", "gen"])
def test_a_status_that_is_a_str_subclass_is_a_str(d, shape):
    """PEP 3333's native string: a ``str`` subclass is one for the status as it is for the
    header names and values (gunicorn checks ``isinstance`` too)."""
    sock = connect(d)
    try:
        sock.sendall(request(b"/status-subclass?" + shape.encode(), extra=b"Connection: close\r\n"))
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 202 Accepted\r\n"), data
    assert b"\r\nX-Kind: subclass\r\n" in data, data


# -- a failing response behind a pipelined one -----------------------------------------------------------
def test_an_app_failing_midway_does_not_cut_the_pipelined_response_before_it(d):
    """A (12 MiB, more than the kernel buffers take while the client reads nothing) then B,
    whose app fails after its first block, then C, pipelined: A arrives whole, B is cut
    (no last chunk), C is never sent and the connection closes."""
    token = uuid.uuid4().hex
    sock = connect(d, timeout=10)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request(b"/one-block") + request(b"/raise-midway?" + token.encode()) + request(b"/closes?x"))
        if d.threads > 1:  # (on the loop, B's call waits until A's bytes are out)
            d.wait_log(re.escape(f"failed midway {token}"), timeout=10)  # B failed while A's tail waited
        reader = Reader(sock)
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert len(body) == ONE_BLOCK and body.count(b"b") == ONE_BLOCK
        rest = read_until_close(sock)
    finally:
        sock.close()
    rest = reader.data + rest
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:300]
    assert rest.endswith(b"\r\n\r\nb\r\nfirst block\r\n"), rest[-300:]  # chunked, cut: no last chunk
    assert rest.count(b"HTTP/1.1 ") == 1, rest  # C never sent


def test_a_body_short_of_its_length_does_not_cut_the_pipelined_response_before_it(d):
    """A (12 MiB) then B, whose streamed body is short of its Content-Length, then C,
    pipelined: A arrives whole, B's head and the bytes it had, then the connection closes
    (C is never read as the rest of B)."""
    token = uuid.uuid4().hex
    sock = connect(d, timeout=10)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request(b"/one-block") + request(b"/short?" + token.encode()) + request(b"/closes?x"))
        if d.threads > 1:  # (on the loop, B's call waits until A's bytes are out)
            d.wait_log(re.escape(f"WSGI app for GET /short?{token} sent 89 bytes less"), timeout=10)
        reader = Reader(sock)
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert len(body) == ONE_BLOCK and body.count(b"b") == ONE_BLOCK
        rest = read_until_close(sock)
    finally:
        sock.close()
    rest = reader.data + rest
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:300]
    assert b"\r\ncontent-length: 100\r\n" in head_of(rest), rest[-300:]
    assert rest.endswith(b"\r\n\r\nfirst block"), rest[-300:]
    assert rest.count(b"HTTP/1.1 ") == 1, rest  # C never sent


# -- nothing runs behind a cut response ------------------------------------------------------------------
def pool_idle(d):
    """Every call submitted before now has finished: as many calls as the worker has
    threads meet at a barrier (each thread takes calls in order, one at a time)."""
    token = uuid.uuid4().hex
    socks = [connect(d, timeout=10) for _ in range(d.threads)]
    try:
        for sock in socks:
            sock.sendall(request(b"/barrier?%d-%s" % (d.threads, token.encode()), extra=b"Connection: close\r\n"))
        for sock in socks:
            assert read_until_close(sock).endswith(b"met")
    finally:
        for sock in socks:
            sock.close()


def ran(d, token):
    sock = connect(d)
    try:
        sock.sendall(request(b"/closes?ran-" + token.encode(), extra=b"Connection: close\r\n"))
        return int(read_until_close(sock).partition(b"\r\n\r\n")[2])
    finally:
        sock.close()


@pytest.mark.parametrize("first", [b"/raise-midway?", b"/short?"])
def test_a_request_pipelined_behind_a_cut_response_is_not_run(d, first):
    """B's response is cut (its app fails midway, or its body is short of its
    Content-Length) and the connection closes: C, pipelined behind it, is not run (its
    answer could never be sent; a POST would take effect unseen)."""
    token = uuid.uuid4().hex
    sock = connect(d)
    try:
        sock.sendall(request(first + token.encode()) + request(b"/ran?" + token.encode()))
        data = read_until_close(sock)
    finally:
        sock.close()
    assert data.count(b"HTTP/1.1 ") == 1, data
    pool_idle(d)  # C, had it been submitted, has run by now
    assert ran(d, token) == 0


# -- a body over its Content-Length that never ends ----------------------------------------------------
def test_a_body_without_end_over_its_content_length_ends_at_it(d):
    """The app says Content-Length: 10 and its iterable never ends: the client gets 10
    bytes, the iteration stops there (close() once) and the connection serves the next
    request; the loop (or the thread) is not held for ever."""
    token = uuid.uuid4().hex
    sock = connect(d, timeout=10)
    try:
        sock.sendall(request(b"/over-forever?" + token.encode()) + request(b"/closes?over-" + token.encode()))
        reader = Reader(sock)
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert body == b"x" * 10
        head, body = reader.response()
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert body == b"1"  # closed once, before the next call ran
    finally:
        sock.close()


@pytest.mark.parametrize("method, status", [(b"HEAD", b"200"), (b"GET", b"204"), (b"GET", b"304")])
def test_an_endless_stream_for_an_answer_without_a_body_ends_at_its_head(d, method, status):
    """A HEAD to an endless stream (a link checker's on an event stream), or an endless
    iterable behind a 204 or 304: the head goes out, the iteration stops (close() once)
    and the connection serves the next request."""
    token = uuid.uuid4().hex
    sock = connect(d, timeout=10)
    try:
        sock.sendall(method + b" /endless?" + status + b"-" + token.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                     + request(b"/closes?endless-" + token.encode()))
        data = b""
        while not data.endswith(b"\r\n\r\n1"):  # the head, then the next answer: closed once
            chunk = sock.recv(65536)  # the socket's timeout is the deadline
            assert chunk, data
            data += chunk
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 " + status + b" "), data
    assert data.count(b"HTTP/1.1 ") == 2, data


def test_write_in_answer_to_a_head_does_not_raise_in_the_app(d):
    """A HEAD to an app that writes its body with write(): nothing of it goes out, and
    write() does not raise (the client is there; only the body is not wanted)."""
    token = uuid.uuid4().hex
    sock = connect(d, timeout=10)
    try:
        sock.sendall(b"HEAD /write-blocks?" + token.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
                     + request(b"/outcome?" + token.encode()))
        data = b""
        while data.count(b"HTTP/1.1 ") < 2 or not data.endswith((b"ok", b"Error", b"Disconnected", b"none")):
            chunk = sock.recv(65536)  # the socket's timeout is the deadline
            assert chunk, data
            data += chunk
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 200 "), data
    assert data.endswith(b"\r\n\r\nok"), data
