"""Hostile request text against the daemon's access log (default format, a real daemon).

Rules under test: whatever URL, Referer or User-Agent a client sends, each response is
one line of the combined format whose quoted fields cannot be closed early: a double
quote, a backslash and every byte outside printable ASCII come out as ``\\xHH``, so a
log reader splits every line into the fields the server wrote, and the escaped text
reads back as the bytes sent.
"""

import os
import re

import pytest

from daemon import Daemon, wait_until
from hostile import exchange, responses

# the default format: {h} - - [{t}] "{r}" {s} {b} "{f}" "{a}" {D}; a quoted field holds
# no raw double quote or backslash, only \xHH escapes
QUOTED = r'((?:[^"\\]|\\x[0-9A-F]{2})*)'
LINE = re.compile(r'(\S+) - - \[([^\]]+)\] "' + QUOTED + r'" (\d{3}) (\S+) "' + QUOTED + r'" "' + QUOTED
                  + r'" (\d+)')


def unescape(text):
    """The bytes an escaped field stands for (the rest of the line is UTF-8)."""
    out = bytearray()
    for piece in re.split(r"(\\x[0-9A-F]{2})", text):
        out += bytes((int(piece[2:], 16),)) if re.fullmatch(r"\\x[0-9A-F]{2}", piece) else piece.encode()
    return bytes(out)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("access") / "access.log")
    d = Daemon("--access-log", path, "--access-log-flush", "0", app="apps.hostile_app:setup", workers=1)
    d.access_path = path
    try:
        d.wait_ready(timeout=30)
        yield d
    finally:
        d.cleanup()


def access_lines(daemon):
    if not os.path.exists(daemon.access_path):
        return []
    with open(daemon.access_path, "rb") as fh:
        return fh.read().decode("utf-8").splitlines()


TARGETS = [b'/q"uote', b"/back\\slash", b'/a"%20200%20-%20"-"%20"x', b"/plain?x=1"]
VALUES = [b'a" 200 1 "evil', b"back\\slash", b"latin-1 caf\xe9 \x85 next-line", b"\xff\xfe\t\"\\", b"-", b""]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("value", VALUES)
def test_client_text_never_forges_a_field_of_the_line(daemon, target, value):
    before = len(access_lines(daemon))
    request = (b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nReferer: r-" + value + b"\r\nUser-Agent: "
               + value + b"\r\nConnection: close\r\n\r\n")
    [(status, _, _)] = responses(exchange(daemon.port, request))
    assert status == 200
    lines = wait_until(lambda: access_lines(daemon)[before:] or None, 10, what="the access log line")
    assert len(lines) == 1, lines  # one response, one line: nothing the client sent ended it
    match = LINE.fullmatch(lines[0])
    assert match, lines[0]
    assert unescape(match.group(3)) == b"GET " + target + b" HTTP/1.1"
    assert match.group(4) == "200"
    assert unescape(match.group(6)) == b"r-" + value.strip(b" \t")
    assert unescape(match.group(7)) == value.strip(b" \t")
