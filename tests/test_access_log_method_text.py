"""A method an app copied from the client (a method-override middleware sets
``req.method`` to a header's text) cannot forge a field of the access log line: a
double quote, a backslash and a byte outside printable ASCII in it are written as
``\\xHH``, as they are in the URL, the Referer and the User-Agent. A real daemon with
one worker, with the default format (lines made at the flush) and with a format spec
(each line made as its response ends), in ``{r}`` and in ``{m}``."""

import os
import socket

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close

FORGED = b'GET / HTTP/1.1" 200 2 "-" "forged" 1 x\\y'
LATIN = b"P\xe9T"


def post(port, override):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /real HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\r\nX-HTTP-Method-Override: " + override
                     + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)


@pytest.mark.parametrize("fmt, quoted", [
    (None, 6),
    ('{h} "{r}" [{m}] {s} {D:>9}', 2),
])
def test_a_method_an_app_took_from_the_client_is_escaped_in_the_line(tmp_path, fmt, quoted):
    path = str(tmp_path / "access.log")
    args = ["--access-log-flush", "0"] + (["--access-log-format", fmt] if fmt else [])
    d = Daemon(*args, app="apps.method_override:setup", workers=1, access_log=path)
    try:
        d.wait_ready(timeout=30)
        overrides = [FORGED, LATIN, b"DELETE"]
        for override in overrides:
            assert post(d.port, override).startswith(b"HTTP/1.1 200 ")
        last = {}

        def written():
            last["data"] = data = open(path, "rb").read() if os.path.exists(path) else b""
            return data.count(b"\n") >= len(overrides)
        wait_until(written, 10, what=lambda: f"{len(overrides)} lines: {last.get('data')!r}")
        lines = last["data"].splitlines()
        assert len(lines) == len(overrides), lines
        forged, latin, plain = lines
        for line in lines:
            assert line.count(b'"') == quoted, line
        escaped = rb'GET / HTTP/1.1\x22 200 2 \x22-\x22 \x22forged\x22 1 x\x5Cy'
        assert b'"' + escaped + b' /real HTTP/1.1"' in forged, forged
        assert b'"P\\xE9T /real HTTP/1.1"' in latin, latin
        assert b'"DELETE /real HTTP/1.1"' in plain, plain
        if fmt:
            assert b"[" + escaped + b"]" in forged and b"[P\\xE9T]" in latin and b"[DELETE]" in plain, lines
    finally:
        d.cleanup()
