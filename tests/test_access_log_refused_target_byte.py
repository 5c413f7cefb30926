"""A request refused for a byte llhttp stops at inside its target (a CR, a NUL, a
control byte: after llhttp handed over the target up to that byte) is logged with its
whole request line, escaped, as one refused for any other byte of a whole line is
(test_http_refused_request_line_log.py), for its 400 and for a 431 alike. prefork
looked for the target followed by a space and so logged ``-`` for these."""

from daemon import Daemon, wait_until
from hostile import exchange
from logline import LINE, log_lines, unescape

TAIL = b"\r\nHost: x\r\nConnection: close\r\n\r\n"
CASES = [
    (b"GET /a\rb HTTP/1.1" + TAIL, b"400", b"GET /a\rb HTTP/1.1"),
    (b"GET /a\x00b HTTP/1.1" + TAIL, b"400", b"GET /a\x00b HTTP/1.1"),
    (b"POST /p?q=\x0b HTTP/1.1" + TAIL, b"400", b"POST /p?q=\x0b HTTP/1.1"),
    (b"GET /a\rb HTTP/1.1\r\nX-Big: " + b"a" * 3000 + TAIL, b"400", b"GET /a\rb HTTP/1.1"),
    (b"GET /ok HTTP/1.1\r\nX-Big: " + b"a" * 3000 + TAIL, b"431", b"GET /ok HTTP/1.1"),
]


def test_a_line_refused_at_a_byte_of_its_target_is_logged_whole(tmp_path):
    path = str(tmp_path / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", "--max-header-size", "2000", workers=1,
               access_log=None)
    try:
        d.wait_ready(timeout=30)
        for sent, status, _ in CASES:
            assert exchange(d.port, sent).startswith(b"HTTP/1.1 " + status + b" "), sent[:40]
        lines = wait_until(lambda: len(log_lines(path)) >= len(CASES) and log_lines(path), 10,
                           what="the access log lines")
        logged = []
        for line in lines:
            match = LINE.fullmatch(line)
            assert match, line
            logged.append((match.group(4).encode(), unescape(match.group(3))))
        assert logged == [(status, line) for _, status, line in CASES], logged
    finally:
        d.cleanup()
