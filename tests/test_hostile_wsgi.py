"""Misbehaving WSGI apps and hostile clients against the real daemon, on the loop
(``threads = 1``) and on a thread pool (``threads = 4``).

One daemon per mode serves the app below (this module, loaded by the worker); each test
checks the answer on the wire, that the worker is the same process afterwards, and that
its descriptors come back to what they were (waited for with a deadline). The app counts
``close()`` calls per token, readable at ``/closes?TOKEN``.
"""

import os
import re
import socket
import struct
import sys
import threading
import time
import uuid

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close

# -- the app (runs in the worker) -----------------------------------------------------------------------
_CLOSES = {}
_LOCK = threading.Lock()
_PIPES = []


class Tracked:
    """An iterable whose ``close()`` calls are counted under ``token``."""

    def __init__(self, token, blocks, fail_at=None, delay=0.0):
        self.token = token
        self.blocks = blocks
        self.fail_at = fail_at
        self.delay = delay

    def __iter__(self):
        for i, block in enumerate(self.blocks):
            if i == self.fail_at:
                raise RuntimeError("the iterable broke midway")
            if self.delay:
                time.sleep(self.delay)
            yield block

    def close(self):
        with _LOCK:
            _CLOSES[self.token] = _CLOSES.get(self.token, 0) + 1


def _endless(n, size=65536):
    block = b"e" * size
    for _ in range(n):
        yield block


def _big_file():
    path = os.path.abspath(f"hostile-{os.getpid()}.bin")  # in the daemon's own temporary directory
    if not os.path.exists(path):
        with open(path + ".part", "wb") as fh:
            fh.write(b"f" * (8 * 1024 * 1024))
        os.replace(path + ".part", path)
    return path


ONE_BLOCK = 12 * 1024 * 1024  # more than loopback's kernel buffers take, less than a worker holds


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    plain = [("Content-Type", "text/plain")]
    if path == "/closes":
        with _LOCK:
            body = str(_CLOSES.get(query, 0)).encode()
        start_response("200 OK", plain)
        return [body]
    if path == "/raise-before":
        raise RuntimeError("raised before start_response")
    if path == "/raise-after":
        start_response("200 OK", plain)
        raise RuntimeError("raised after start_response")
    if path == "/sys-exit":
        sys.exit(3)  # a view (or a library under it) calling sys.exit() ends this request only
    if path == "/sys-exit-gen":
        def exiting():
            yield b"first block"
            raise SystemExit(4)
        start_response("200 OK", plain)
        return Tracked(query, exiting())
    if path == "/twice":
        start_response("200 OK", plain)
        start_response("404 Not Found", plain)
        return [b"twice"]
    if path == "/exc-info-late":
        def late():
            yield b"first block"
            try:
                raise ValueError("failed after the head")
            except ValueError:
                start_response("500 Internal Server Error", plain, sys.exc_info())
            yield b"never"
        start_response("200 OK", plain)
        return Tracked(query, late())
    if path == "/gen-raise":
        start_response("200 OK", plain)
        return Tracked(query, [b"one ", b"two ", b"three"], fail_at=2)
    if path == "/item":
        start_response("200 OK", plain)
        item = {"str": "text", "none": None, "int": 5, "bytes": b"ok"}[query.split("-")[0]]
        if query.endswith("-gen"):
            return Tracked("item", [b"before ", item])
        return [item]
    if path == "/cl":
        declared, actual = (int(x) for x in query.split("-")[:2])
        start_response("200 OK", plain + [("Content-Length", str(declared))])
        body = b"b" * actual
        if query.endswith("-gen"):
            return Tracked("cl", [body[:1], body[1:]])
        return [body]
    if path == "/cl-bad":
        lengths = [("Content-Length", value) for value in query.split("~")]
        start_response("200 OK", plain + lengths)
        return [b"abc"]
    if path == "/hop":
        start_response("200 OK", plain + [("Transfer-Encoding", "chunked"), ("Keep-Alive", "timeout=99"),
                                          ("Upgrade", "websocket"), ("Proxy-Authenticate", "Basic"),
                                          ("TE", "trailers"), ("X-Kept", "yes")])
        return [b"hop"]
    if path == "/not-modified":  # Django's 304: Content-Length 0, the body an iterable (its HttpResponse)
        start_response("304 Not Modified", [("ETag", '"v1"'), ("Content-Length", "0")])
        return iter([b""]) if query == "iter" else [b""]
    if path == "/trailer":  # a Trailer field, though WSGI has no way to send trailers
        start_response("200 OK", plain + [("Content-Length", "5"), ("Trailer", "X-T")])
        return [b"hello"] if query != "gen" else iter([b"hel", b"lo"])
    if path == "/status":
        start_response({"crlf": "200 OK\r\nX-Injected: 1", "euro": "200 \u20ac", "short": "20 OK",
                        "interim": "100 Continue", "zero": "000 Zero", "plain": "299 Odd"}[query], plain)
        return [b"status"]
    if path == "/no-content":  # a 204 with a Content-Length, its body a list or a generator
        start_response("204 No Content", [("Content-Length", "4")])
        return [b"body"] if query == "list" else iter([b"bo", b"dy"])
    if path == "/header":
        value = {"crlf": "a\r\nX-Injected: 1", "lf": "a\nb", "euro": "\u20ac", "latin": "caf\u00e9",
                 "nul": "a\x00b"}[query]
        start_response("200 OK", plain + [("X-Value", value)])
        return [b"header"]
    if path == "/write-str":
        write = start_response("200 OK", plain)
        write("text through write()")
        return []
    if path == "/closed-file":
        fh = open(__file__, "rb")
        fh.close()
        start_response("200 OK", plain)
        return environ["wsgi.file_wrapper"](fh)
    if path == "/pipe":
        read_end, write_end = os.pipe()
        os.write(write_end, b"through a pipe")
        os.close(write_end)
        start_response("200 OK", plain)
        return environ["wsgi.file_wrapper"](os.fdopen(read_end, "rb"))
    if path == "/file-short":  # declares more than the file holds
        start_response("200 OK", plain + [("Content-Length", "100000")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"))
    if path == "/hang":  # never returns
        while True:
            time.sleep(0.05)
    if path == "/sleep":  # a call that waits (a database), then answers
        t, _, seconds = query.partition("-")
        time.sleep(float(seconds))
        start_response("200 OK", plain)
        return Tracked(t, [b"slept"])
    if path == "/big-file":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(_big_file(), "rb"))
    if path == "/stream":  # a long response: the client goes away meanwhile
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Tracked(query, _endless(10000))
    if path == "/one-block":  # a streamed response of one block (a Flask one is so), larger than the kernel takes
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(ONE_BLOCK))])
        return Tracked(query, iter([b"b" * ONE_BLOCK]))
    if path == "/slow-stream":
        start_response("200 OK", plain)
        return Tracked(query, [b"tick\n"] * 400, delay=0.05)
    if path == "/echo":
        stream = environ["wsgi.input"]
        body = stream.read()
        after = stream.read(10) + stream.read() + stream.readline()
        start_response("200 OK", plain)
        return [b"%d %d" % (len(body), len(after))]
    if path == "/lines":
        stream = environ["wsgi.input"]
        lines = []
        while True:
            line = stream.readline(int(query) if query else -1)
            if not line:
                break
            lines.append(len(line))
        start_response("200 OK", plain)
        return [repr(lines).encode()]
    if path == "/read-track":
        with _LOCK:
            _CLOSES["start-" + query] = 1
        try:
            body = environ["wsgi.input"].read()
        except OSError:
            with _LOCK:
                _CLOSES["read-" + query] = _CLOSES.get("read-" + query, 0) + 1
            raise
        start_response("200 OK", plain)
        return [b"%d" % len(body)]
    if path == "/env" or environ.get("HTTP_X_ENV"):
        keys = ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "HTTP_X_FORWARDED_FOR", "HTTP_X_CUSTOM",
                "REMOTE_ADDR")
        start_response("200 OK", plain)
        return [repr({k: environ.get(k) for k in keys}).encode("latin-1")]
    start_response("404 Not Found", plain)
    return [b"not here"]


# -- the daemons -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 4], ids=["loop", "threads"])
def served(request):
    d = Daemon("--interface", "wsgi", "--threads", str(request.param), "--max-body-size", "200000",
               "--wsgi-body-spool", "1000", "--request-timeout", "3", "--headers-timeout", "3", "--timeout", "6",
               "--connections-checking-interval", "0.2",
               "--root-path", "/app", app="test_hostile_wsgi:app", workers=1)
    try:
        d.wait_ready()
        (worker,) = d.wait_workers(1)
        d.worker = worker
        d.threads = request.param
        yield d
    finally:
        d.cleanup()
        for name in os.listdir(d.tmp):
            if name.startswith("hostile-"):
                os.unlink(os.path.join(d.tmp, name))


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def d(served):
    """The daemon; afterwards the worker is the same process and its descriptors are back."""
    wait_until(lambda: fd_count(served.worker) <= getattr(served, "fds", 10 ** 6), 15,
               what="the descriptors of earlier tests to go")
    served.fds = fd_count(served.worker)
    yield served
    assert served.workers() == [served.worker], served.log()[-3000:]
    wait_until(lambda: fd_count(served.worker) <= served.fds, 15,
               what=f"the worker's descriptors back to {served.fds}")


def connect(d, timeout=10):
    return socket.create_connection(("127.0.0.1", d.port), timeout=timeout)


def exchange(d, raw, timeout=10):
    """Send ``raw``; everything until the daemon closes."""
    sock = connect(d, timeout)
    try:
        sock.sendall(raw)
        return read_until_close(sock)
    finally:
        sock.close()


def get(path, extra=b"", close=True):
    return (b"GET /app" + path + b" HTTP/1.1\r\nHost: x\r\n" + extra
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_response(sock):
    """One Content-Length or chunked response on a kept-alive connection: (head, body)."""
    head, rest = read_head(sock)
    match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    if match:
        length = int(match.group(1))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, (head, rest)
            rest += chunk
        return head, rest[:length]
    while not rest.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, (head, rest)
        rest += chunk
    return head, dechunk(rest)


def dechunk(body):
    out = b""
    while True:
        size, _, rest = body.partition(b"\r\n")
        size = int(size, 16)
        if size == 0:
            return out
        out += rest[:size]
        body = rest[size + 2:]


def closes(d, token):
    return int(exchange(d, get(b"/closes?" + token.encode()), timeout=30).split(b"\r\n\r\n", 1)[1])


def wait_closes(d, token, count=1):
    wait_until(lambda: closes(d, token) >= count, 15, what=f"close() for {token}")
    assert closes(d, token) == count


def token():
    return uuid.uuid4().hex


def keep_alive_then(d, first, check):
    """``first`` then a plain request on the same connection: the second must be answered."""
    sock = connect(d)
    try:
        sock.sendall(first)
        head, body = read_response(sock)
        check(head, body)
        sock.sendall(get(b"/closes?x", close=False))
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200 "), head
    finally:
        sock.close()


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- apps that raise or misuse start_response ------------------------------------------------------------
@pytest.mark.parametrize("path", [b"/raise-before", b"/raise-after", b"/twice", b"/sys-exit"])
def test_a_failing_app_gets_a_500_and_the_connection_goes_on(d, path):
    def check(head, body):
        assert head.startswith(b"HTTP/1.1 500 ") and body == b"Internal Server Error\n"
    keep_alive_then(d, get(path, close=False), check)


def test_system_exit_mid_body_cuts_the_body_and_the_worker_serves_on(d):
    t = token()
    data = exchange(d, get(b"/sys-exit-gen?" + t.encode(), close=False))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"first block" in data
    assert not data.endswith(b"0\r\n\r\n")  # cut short: no last chunk
    wait_closes(d, t)
    d.wait_log("SystemExit: 4")


def test_exc_info_after_the_head_closes_the_connection_and_closes_the_iterable(d):
    t = token()
    data = exchange(d, get(b"/exc-info-late?" + t.encode(), close=False))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"first block" in data
    assert not data.endswith(b"0\r\n\r\n") and b"never" not in data  # cut short: no last chunk
    wait_closes(d, t)


def test_a_generator_that_raises_midway_cuts_the_body_and_is_closed_once(d):
    t = token()
    data = exchange(d, get(b"/gen-raise?" + t.encode(), close=False))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and b"one " in data
    assert not data.endswith(b"0\r\n\r\n")
    wait_closes(d, t)


# -- what the app returns ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["str", "none", "int", "str-gen", "none-gen", "int-gen"])
def test_body_items_that_are_not_bytes_are_an_app_error(d, kind):
    data = exchange(d, get(b"/item?" + kind.encode()))
    if kind.endswith("-gen"):  # the first block is out: the connection closes, the body cut short
        assert data.startswith(b"HTTP/1.1 200 OK\r\n") and not data.endswith(b"0\r\n\r\n"), data
        assert b"text" not in data.split(b"\r\n\r\n", 1)[1]
    else:
        assert data.startswith(b"HTTP/1.1 500 "), data
    d.wait_log(r"TypeError: .*bytes")


def test_a_body_longer_than_its_content_length_is_cut_to_it(d):
    for suffix in (b"", b"-gen"):
        def check(head, body):
            assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 3\r\n" in head
            assert body == b"bbb"
        keep_alive_then(d, get(b"/cl?3-10" + suffix, close=False), check)


@pytest.mark.parametrize("suffix", [b"", b"-gen"])
def test_a_body_shorter_than_its_content_length_closes_the_connection(d, suffix):
    sock = connect(d)
    try:
        sock.sendall(get(b"/cl?10-4" + suffix, close=False) + get(b"/closes?x", close=False))
        data = read_until_close(sock)  # closes: the client sees a short body, not the next response
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 10\r\n" in head
    assert body == b"bbbb", data
    d.wait_log(r"Content-Length")


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1,2", b"+3", b"3~4"])
def test_an_invalid_content_length_from_the_app_is_a_500(d, value):
    data = exchange(d, get(b"/cl-bad?" + value))
    assert data.startswith(b"HTTP/1.1 500 "), data


def test_the_same_content_length_twice_is_one_field(d):
    data = exchange(d, get(b"/cl-bad?3~3"))
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"Content-Length") == 1 and data.endswith(b"abc")


def test_hop_by_hop_headers_from_the_app_are_dropped(d):
    def check(head, body):
        lower = head.lower()
        assert head.startswith(b"HTTP/1.1 200 ") and b"x-kept: yes" in lower and body == b"hop"
        for name in (b"transfer-encoding", b"keep-alive: timeout=99", b"upgrade", b"proxy-authenticate",
                     b"\r\nte:"):
            assert name not in lower, head
    keep_alive_then(d, get(b"/hop", close=False), check)


@pytest.mark.parametrize("query", [b"iter", b"list"])
def test_a_304_with_content_length_0_does_not_send_it_whatever_the_body(d, query):
    """RFC 9110 8.6: a 304's Content-Length would be the representation's; Django's 0 is
    its own empty body's, and would tell a cache the stored body is empty."""
    data = exchange(d, get(b"/not-modified?" + query))
    assert data.startswith(b"HTTP/1.1 304 ") and b'etag: "v1"' in data.lower(), data
    assert b"content-length" not in data.lower()


@pytest.mark.parametrize("request_bytes", [get(b"/trailer"), get(b"/trailer?gen"),
                                           get(b"/trailer").replace(b"GET", b"HEAD", 1)])
def test_a_trailer_field_from_the_app_is_dropped_and_the_length_frames_the_body(d, request_bytes):
    """No trailers follow a WSGI body, so the field announcing them is dropped; the body
    keeps its Content-Length (the events API's Node rule, chunked or refused, is not the
    app's: it would make this a 500 for HEAD)."""
    data = exchange(d, request_bytes)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\ncontent-length: 5" in head.lower(), data
    assert b"trailer" not in head.lower() and b"chunked" not in head.lower()
    assert body == (b"" if request_bytes.startswith(b"HEAD") else b"hello")


@pytest.mark.parametrize("kind", ["crlf", "euro", "short", "interim", "zero"])
def test_a_bad_status_line_is_a_500_never_sent(d, kind):
    data = exchange(d, get(b"/status?" + kind.encode()))
    assert data.startswith(b"HTTP/1.1 500 ") and b"X-Injected" not in data, data


def test_an_unusual_status_code_goes_out_as_given(d):
    data = exchange(d, get(b"/status?plain"))
    assert data.startswith(b"HTTP/1.1 299 Odd\r\n"), data


@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
@pytest.mark.parametrize("shape", [b"list", b"gen"])
def test_a_204_never_carries_a_content_length_or_a_body(d, method, shape):
    sock = connect(d)
    try:  # the 204, then a request on the same connection: its answer follows the 204's head at once
        sock.sendall(method + b" /app/no-content?" + shape + b" HTTP/1.1\r\nHost: x\r\n\r\n" + get(b"/closes?x"))
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 No Content\r\n") and b"content-length" not in head.lower(), data
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n"), data


@pytest.mark.parametrize("kind", ["crlf", "lf", "euro", "nul"])
def test_a_header_value_with_control_or_non_latin1_characters_is_a_500(d, kind):
    data = exchange(d, get(b"/header?" + kind.encode()))
    assert data.startswith(b"HTTP/1.1 500 ") and b"X-Injected" not in data, data


def test_a_latin1_header_value_goes_out_as_latin1(d):
    data = exchange(d, get(b"/header?latin"))
    assert data.startswith(b"HTTP/1.1 200 ") and b"X-Value: caf\xe9\r\n" in data, data


def test_write_callable_with_str_is_an_app_error(d):
    data = exchange(d, get(b"/write-str"))
    assert b"text through write()" not in data
    assert data.startswith(b"HTTP/1.1 500 ") or data == b"" or not data.endswith(b"0\r\n\r\n"), data


def test_file_wrapper_of_a_closed_file_is_a_500(d):
    data = exchange(d, get(b"/closed-file"))
    assert data.startswith(b"HTTP/1.1 500 "), data


def test_file_wrapper_of_a_pipe_is_streamed(d):
    data = exchange(d, get(b"/pipe"))
    assert data.startswith(b"HTTP/1.1 200 ") and b"through a pipe" in data, data


def test_file_wrapper_shorter_than_its_content_length_closes_the_connection(d):
    sock = connect(d)
    try:
        sock.sendall(get(b"/file-short", close=False) + get(b"/closes?x", close=False))
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    with open(__file__, "rb") as fh:
        assert body == fh.read()  # the file, then the close; never the next response


# -- clients that go away or never read -----------------------------------------------------------------
def test_a_client_gone_mid_response_gets_the_iterable_closed_once(d):
    t = token()
    sock = connect(d)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(get(b"/stream?" + t.encode(), close=False))
    head, _ = read_head(sock)  # the response is under way (and waits for this reader)
    assert head.startswith(b"HTTP/1.1 200 ")
    reset(sock)
    wait_closes(d, t)
    keep_alive_then(d, get(b"/closes?" + t.encode(), close=False),
                    lambda head, body: body == b"1" or pytest.fail(body))


def test_a_client_gone_mid_sendfile_frees_its_socket(d, tmp_path):
    sock = connect(d)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(get(b"/big-file", close=False))
    head, _ = read_head(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    if d.threads == 1:  # sendfile (on threads the file is iterated)
        assert b"Content-Length: 8388608\r\n" in head
    reset(sock)
    data = exchange(d, get(b"/closes?x"))  # the worker goes on serving
    assert data.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("path", [b"/stream", b"/big-file"])
def test_a_client_that_never_reads_is_disconnected_after_timeout(d, path):
    t = token()
    logged = len(re.findall("took nothing for", d.log()))
    sock = connect(d, timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    started = time.monotonic()
    sock.sendall(get(path + b"?" + t.encode(), close=False))
    head, _ = read_head(sock)
    assert head.startswith(b"HTTP/1.1 200 ")
    if path == b"/stream":
        # meanwhile, with threads = 1, other clients are served only once it is gone
        wait_closes(d, t)
    d.wait_log(r"took nothing for", timeout=30, count=logged + 1)
    assert time.monotonic() - started >= 5  # --timeout 6: not before the client stalled that long
    sock.setblocking(False)
    total = 0
    with pytest.raises((ConnectionResetError, BlockingIOError)):
        while True:  # what the kernel still holds, then the end
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionResetError
            total += len(chunk)
    sock.close()
    assert total < 8 * 1024 * 1024


def test_a_client_slow_to_read_a_one_block_response_does_not_hold_the_worker(d):
    """The app's one block waits on the socket, the call is over: another client is
    served at once (not after the slow one's ``timeout``), and the slow one still gets
    every byte."""
    t = token()
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # before connecting: the window's scale
    slow.settimeout(30)
    slow.connect(("127.0.0.1", d.port))
    try:
        slow.sendall(get(b"/one-block?" + t.encode(), close=False))
        head, rest = read_head(slow)
        assert head.startswith(b"HTTP/1.1 200 ")
        wait_closes(d, t)  # the call is done (its iterable closed) while the bytes wait
        other = connect(d, timeout=3)  # --timeout 6: a call waiting on the slow reader would be cut only then
        try:
            other.sendall(get(b"/closes?" + t.encode(), close=False))
            assert read_response(other)[1] == b"1"
        finally:
            other.close()
        body = rest
        while len(body) < ONE_BLOCK:
            chunk = slow.recv(1 << 20)
            assert chunk, len(body)
            body += chunk
        assert body == b"b" * ONE_BLOCK
    finally:
        slow.close()


def test_a_client_gone_mid_body_leaves_no_spool_behind(d):
    sock = connect(d)
    sock.sendall(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 150000\r\n\r\n" + b"s" * 60000)
    if d.threads == 1:  # past --wsgi-body-spool: a temporary file holds it
        wait_until(lambda: fd_count(d.worker) > d.fds + 1, 10, what="the spool file")
    sock.close()
    data = exchange(d, get(b"/closes?x"))
    assert data.startswith(b"HTTP/1.1 200 ")
    # (the fixture waits for the worker's descriptors to come back)


@pytest.mark.parametrize("served", [4], ids=["threads"], indirect=True)  # threads = 1 reads the body first
def test_a_body_its_client_abandons_never_takes_a_thread(d):
    """A call goes to a thread once its body is in (or 256 KiB of it, more than this
    daemon's max_body_size): a client that leaves mid-body leaves no call behind, and the
    worker's descriptors come back (the fixture)."""
    t = token()
    sock = connect(d)
    sock.sendall(b"POST /app/read-track?" + t.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                 b"Expect: 100-continue\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")  # the worker has the head
    sock.sendall(b"abc")
    reset(sock)
    # the worker has closed that connection (its descriptors are back), and no call began
    wait_until(lambda: fd_count(d.worker) <= d.fds, 15, what="the worker to close the connection")
    assert closes(d, "start-" + t) == 0


def test_100_continue_then_no_body_ends_at_the_request_timeout(d):
    sock = connect(d, timeout=20)
    sock.sendall(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    data = read_until_close(sock)  # --request-timeout 3
    sock.close()
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), data
    rest = data[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    assert rest == b"" or rest.startswith(b"HTTP/1.1 408 "), data


# -- wsgi.input ------------------------------------------------------------------------------------------
def test_reading_past_the_body_gives_nothing(d):
    data = exchange(d, b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
    assert data.endswith(b"\r\n\r\n5 0"), data


def test_a_chunked_body_read_past_its_end(d):
    data = exchange(d, b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert data.endswith(b"\r\n\r\n5 0"), data


@pytest.mark.parametrize("limit,expect", [(b"", b"[100000, 6]"), (b"30000", b"[30000, 30000, 30000, 10000, 6]")])
def test_readline_of_a_huge_line_and_a_last_line_without_newline(d, limit, expect):
    body = b"L" * 99999 + b"\n" + b"tail!!"
    data = exchange(d, b"POST /app/lines?" + limit + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert data.endswith(b"\r\n\r\n" + expect), data[-200:]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_max_body_size_is_a_413(d, framing):
    sock = connect(d)
    if framing == "length":
        sock.sendall(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200001\r\n\r\n")
    else:
        sock.sendall(b"POST /app/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(30):
                sock.sendall(b"2710\r\n" + b"c" * 10000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
    data = read_until_close(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]


@pytest.mark.parametrize("query", [b"5-5", b"5-5-gen"])
@pytest.mark.parametrize("method", [b"GET", b"HEAD"])
def test_an_http_1_0_client_gets_the_apps_content_length_and_its_keep_alive(d, method, query):
    # Node's rule (and gunicorn's): an HTTP/1.0 keep-alive request whose answer has a
    # Content-Length from the app is kept alive; without that field (dropped, as it was
    # when the server would have written its own) the body runs to the close, and a
    # proxy speaking HTTP/1.0 (nginx's default) loses the length it passes on
    data = exchange(d, method + b" /app/cl?" + query + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    b"GET /app/cl?3-3 HTTP/1.0\r\n\r\n")
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"\r\nContent-Length: 5\r\n" in head + b"\r\n", data
    assert b"\r\nConnection: keep-alive\r\n" in head, data
    body = b"" if method == b"HEAD" else b"bbbbb"
    assert rest.startswith(body + b"HTTP/1.1 200 ") and rest.endswith(b"\r\n\r\nbbb"), data


# -- the environ --------------------------------------------------------------------------------------------
def env_of(d, raw):
    data = exchange(d, raw.replace(b"\r\n", b"\r\nX-Env: 1\r\n", 1))
    assert data.startswith(b"HTTP/1.1 200 "), data
    return eval(data.split(b"\r\n\r\n", 1)[1].decode("latin-1"))


@pytest.mark.parametrize("names", [(b"X-Forwarded-For", b"X-Forwarded_For"), (b"X-Forwarded_For", b"X-Forwarded-For"),
                                   (b"X_Forwarded_For",)])
def test_a_header_name_with_an_underscore_never_passes_for_its_dash_twin(d, names):
    lines = b"".join(name + b": 10.9.9.%d\r\n" % i for i, name in enumerate(names))
    env = env_of(d, b"GET /app/env HTTP/1.1\r\nHost: x\r\n" + lines + b"X-Custom: c\r\nConnection: close\r\n\r\n")
    expect = None if b"X-Forwarded-For" not in names else "10.9.9.%d" % names.index(b"X-Forwarded-For")
    assert env["HTTP_X_FORWARDED_FOR"] == expect and env["HTTP_X_CUSTOM"] == "c"


@pytest.mark.parametrize("target,script_name,path", [
    (b"/app/caf%C3%A9", "/app", "/caf\u00c3\u00a9"),  # UTF-8 bytes, as latin-1 (PEP 3333)
    (b"/app/%e9t%C3%A9", "/app", "/\u00e9t\u00c3\u00a9"),  # not UTF-8: the bytes as they came
    (b"/app/a%2Fb", "/app", "/a/b"),
    (b"/app", "/app", ""),
    (b"/app/", "/app", "/"),
    (b"/application", "", "/application"),  # outside the mount: the two still join to the path
    (b"/ap", "", "/ap"),
    (b"http://example.test/app/x?q=1", "/app", "/x"),
    (b"http://example.test?q=2", "", "/"),
    # a fragment (which a client should not send) is no part of the path or the query,
    # as gunicorn and the ASGI scope have it; %23 is an escaped "#" of the path
    (b"/app/x#frag", "/app", "/x"),
    (b"/app/admin#/../public", "/app", "/admin"),
    (b"/app/x?q=1#frag?r=2", "/app", "/x"),
    (b"/app/a%23b?c%23d#e", "/app", "/a#b"),
    (b"http://example.test/app/y#f", "/app", "/y"),
])
def test_path_info_round_trips_as_latin1_and_script_name_edges(d, target, script_name, path):
    env = env_of(d, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script_name, path)
    query = target.split(b"#", 1)[0]
    assert env["QUERY_STRING"] == (query.split(b"?", 1)[1].decode() if b"?" in query else "")


# -- the thread pool ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("served", [4], ids=["threads"], indirect=True)  # threads = 1: one call at a time
def test_more_slow_calls_than_threads_queue_and_clients_that_leave_free_their_turn(d):
    t = token()
    socks = []
    for i in range(12):  # 3 per thread
        sock = connect(d, timeout=30)
        sock.sendall(get(b"/sleep?%s-1" % t.encode()))
        socks.append(sock)
    for sock in socks[::2]:  # half go away while their calls run or wait for a thread
        reset(sock)
    for sock in socks[1::2]:
        data = read_until_close(sock)
        sock.close()
        assert data.startswith(b"HTTP/1.1 200 ") and b"\r\nslept\r\n" in data, data
    # the calls that ran had their iterables closed; those whose clients left before a
    # thread was free were not run: at most the 4 that took the threads at once, with the
    # 6 clients still there
    wait_until(lambda: closes(d, t) >= 6, 15, what="the calls' close()")
    data = exchange(d, get(b"/sleep?x-0"))  # queued behind every call above
    assert b"\r\nslept\r\n" in data
    assert closes(d, t) <= 10


def test_a_slow_but_steady_reader_is_not_disconnected(d):
    t = token()
    logged = len(re.findall("took nothing for", d.log()))
    sock = connect(d, timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(get(b"/stream?" + t.encode(), close=False))
    started = time.monotonic()
    while time.monotonic() - started < 8:  # longer than --timeout 6, taking a little at a time
        chunk = sock.recv(16384)
        assert chunk, "disconnected while reading"
        time.sleep(0.2)  # noqa: the slow reader itself
    assert sock.recv(16384)  # still served after 8 s
    reset(sock)
    wait_closes(d, t)
    assert len(re.findall("took nothing for", d.log())) == logged


def test_an_app_that_never_returns_on_the_loop_gets_its_worker_replaced(daemons):
    """threads = 1: the call holds the loop, so the heartbeat stops and the master replaces
    the worker (as gunicorn's sync worker is killed at its timeout); the client's
    connection ends. (On threads the call is logged and the worker goes on:
    tests/test_wsgi_threads.py.)"""
    # the timeout bounds the boot too (a longer one is aborted, booted again, ...): an app
    # quick to import, and a timeout above what importing the WSGI layer takes under load
    d = daemons("--interface", "wsgi", "--threads", "1", "--timeout", "3", "--root-path", "/app",
                app="apps.wsgi_never_returns:app", workers=1)
    d.wait_ready(timeout=30)
    (worker,) = d.wait_workers(1, timeout=30)
    sock = connect(d, timeout=30)
    sock.sendall(get(b"/hang"))
    assert read_until_close(sock).startswith(b"HTTP/1.1 500 ")  # answered 500 before the worker went
    sock.close()
    d.wait_log(r"sent no heartbeat", timeout=20)
    (replacement,) = d.wait_workers(1, timeout=20, exclude=[worker])
    data = exchange(d, get(b"/"), timeout=30)
    assert data.startswith(b"HTTP/1.1 200 ") and replacement != worker
