"""The server's own replies in the daemon's access log (default format, a real daemon).

Rules under test: a request the server answers itself (400 to a malformed request, 431 to
a head over the limit, 413 to chunk extensions over the limit, 408 to a head that never
completes) gets one access log line, as nginx logs its own 400s: the request line when
it was read (escaped as any client text), else ``-``; the status of the canned reply;
``-`` for its size (it has no body); the Referer and User-Agent when the head was read.
"""

import socket

import pytest

from daemon import Daemon, wait_until
from prefork.http.parser import RequestParser
from hostile import exchange, read_to_close
from logline import LINE, log_lines


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("replies") / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", "--headers-timeout", "0.5",
               "--request-timeout", "1", "--connections-checking-interval", "0.1",
               app="apps.hostile_app:setup", workers=1)
    d.access_path = path
    try:
        d.wait_ready(timeout=30)
        yield d
    finally:
        d.cleanup()


def access_lines(daemon):
    return log_lines(daemon.access_path)


def logged(daemon, request, before):
    """The one line the daemon logs for ``request`` (sent on a new connection)."""
    reply = exchange(daemon.port, request)
    lines = wait_until(lambda: access_lines(daemon)[before:] or None, 10, what="the access log line")
    assert len(lines) == 1, lines
    match = LINE.fullmatch(lines[0])
    assert match, lines[0]
    return reply, match


@pytest.mark.parametrize("request_bytes, status, request_line", [
    (b"NOT HTTP AT ALL\r\n\r\n", "400", "-"),
    (b"GET /p?x=1 HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", "400", "GET /p?x=1 HTTP/1.1"),
    (b'GET /q"uote HTTP/1.1\r\nHost: x\r\nX: ' + b"a" * 20000 + b"\r\n\r\n", "431", r"GET /q\x22uote HTTP/1.1"),
    (b"GET /" + b"u" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "431", "-"),
])
def test_a_request_the_server_answers_itself_is_logged(daemon, request_bytes, status, request_line):
    before = len(access_lines(daemon))
    reply, match = logged(daemon, request_bytes, before)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode())
    assert match.group(1) == "127.0.0.1"
    assert match.group(3) == request_line
    assert match.group(4) == status
    assert match.group(5) == "-"  # the canned reply has no body
    assert (match.group(6), match.group(7)) == ("-", "-")


def test_a_body_refused_after_its_head_is_logged_with_the_head(daemon):
    before = len(access_lines(daemon))
    request = (b"POST /never HTTP/1.1\r\nHost: x\r\nReferer: http://r/\r\nUser-Agent: agent/1\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5;" + b"e" * 20000 + b"\r\nhello\r\n0\r\n\r\n")
    reply, match = logged(daemon, request, before)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert match.group(3) == "POST /never HTTP/1.1"
    assert match.group(4) == "413"
    assert (match.group(6), match.group(7)) == ("http://r/", "agent/1")


def test_a_head_that_never_completes_is_logged_as_408_with_its_duration(daemon):
    before = len(access_lines(daemon))
    sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
        reply = read_to_close(sock, 10)
    finally:
        sock.close()
    assert reply.startswith(b"HTTP/1.1 408 ")
    lines = wait_until(lambda: access_lines(daemon)[before:] or None, 10, what="the access log line")
    [line] = lines
    match = LINE.fullmatch(line)
    assert match, line
    assert (match.group(3), match.group(4)) == ("GET /slow HTTP/1.1", "408")
    assert int(match.group(8)) >= 400_000  # µs: the head's deadline was 0.5 s


def test_an_answered_request_is_still_logged_once(daemon):
    before = len(access_lines(daemon))
    reply, match = logged(daemon, b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", before)
    assert reply.startswith(b"HTTP/1.1 200 ")
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert (match.group(3), match.group(4), match.group(5)) == ("GET /ok HTTP/1.1", "200", str(len(body)))


class Discard:
    """A parser handler that takes each message and keeps nothing."""

    def on_headers(self, *args):
        pass

    def on_body(self, body):
        pass

    def on_message_complete(self, trailers):
        pass


# The request line the parser reports for a request it stopped (http/ layer, no sockets):
# before any header field came out of llhttp, the line is read from the bytes, never from
# an earlier pipelined request or a later line of this one.
@pytest.mark.parametrize("data, expected", [
    (b"GET /a HTTP/1.1\r\nBad Header: v\r\n\r\n", ("GET", "/a", "1.1")),
    (b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /a HTTP/1.1\r\nBad Header: v\r\n\r\n", ("GET", "/a", "1.1")),
    (b"GET /a HTTP/1.1\r\nGET /a HTTP/1.0\r\n\r\n", ("GET", "/a", "1.1")),
    (b"GET /a HTTP/1.1\r\nX: y\r\nA: b\r\nBad Header: v\r\n\r\n", ("GET", "/a", "1.1")),
    (b"GET /a HTTP/1.1\r\nX: GET /a HTTP/1.0\r\nBad Header: v\r\n\r\n", ("GET", "/a", "1.1")),
    (b"GET /a HTX/1.1\r\n\r\n", None),
    (b"NOT HTTP AT ALL\r\n\r\n", None),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", None),
])
def test_the_request_line_of_a_request_the_parser_stopped(data, expected):
    from prefork.http.errors import ParseError

    parser = RequestParser(Discard())
    with pytest.raises(ParseError) as caught:
        parser.feed(data)
    assert parser.request_line(caught.value) == expected


def test_an_unfinished_request_line_is_not_taken_from_an_earlier_request():
    """A request line cut short (the head timed out) is unknown, even when the bytes
    before it (an earlier request's body) hold a line with the same method and target."""

    parser = RequestParser(Discard())
    body = b"x\nGET /a HTTP/1.0\r\n"
    parser.feed(b"POST /up HTTP/1.1\r\nContent-Length: %d\r\n\r\n%sGET /a HTTP/1" % (len(body), body))
    assert parser.request_line() is None
    parser.feed(b".1\r\nX")
    assert parser.request_line() == ("GET", "/a", "1.1")
