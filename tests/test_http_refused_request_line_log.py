"""A request the server refuses with a 400 is logged with its request line whenever the
client's bytes held the whole line (up to its LF, a CR before it dropped), whatever
llhttp refused in it: the version, a byte of the target, a byte or the length of the
method (nginx logs the escaped line too). A line the log cannot write as ``METHOD
TARGET HTTP/VERSION``, or one longer than a head may be, is ``-``. A real daemon, its
access log written at once."""

from daemon import Daemon, wait_until
from hostile import exchange
from logline import LINE, log_lines, unescape

TAIL = b"\r\nHost: x\r\nConnection: close\r\n\r\n"
LONG_METHOD = b"G" * 10000
CASES = [
    (b"GET / HTTP/9.9", b"GET / HTTP/9.9"),
    (b'GET /\x01"x HTTP/1.1', b'GET /\x01"x HTTP/1.1'),
    (b"G\xffT / HTTP/1.1", b"G\xffT / HTTP/1.1"),
    (LONG_METHOD + b" / HTTP/1.1", LONG_METHOD + b" / HTTP/1.1"),
    (b"GET /a\x7fb HTTP/1.1", b"GET /a\x7fb HTTP/1.1"),
    (b"G@T / HTTP/1.1", b"G@T / HTTP/1.1"),
    (b"GET / HTTP/1.1 x", b"GET / HTTP/1.1 x"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header", b"GET / HTTP/1.1"),  # (refused in a later line)
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1", b"-"),  # over max_header_size: a 431
]


def test_a_refused_request_whose_line_came_whole_is_logged_with_that_line(tmp_path):
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", workers=1, access_log=None)
    try:
        d.wait_ready(timeout=30)
        for sent, _ in CASES:
            assert exchange(d.port, sent + TAIL).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 431 ")), sent[:40]
        lines = wait_until(lambda: len(log_lines(path)) >= len(CASES) and log_lines(path), 10,
                           what="the access log lines")
        logged = []
        for line in lines:
            match = LINE.fullmatch(line)
            assert match, line
            logged.append(unescape(match.group(3)))
        assert logged == [line for _, line in CASES], logged
    finally:
        d.cleanup()
