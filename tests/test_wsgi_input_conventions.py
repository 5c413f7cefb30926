"""``wsgi.input`` takes the arguments ``io`` streams take (PEP 3333 names ``read``,
``readline`` and ``readlines`` with an optional size or hint; None means no bound,
as gunicorn's body and every ``io`` stream read it), on the loop and on threads, for
a body with a length and a chunked one."""

import json
import socket
import textwrap

import pytest

from daemon import Daemon
from harness import read_until_close

APP = """
    import json

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        how = environ["QUERY_STRING"]
        if how == "readlines-none":
            out = stream.readlines(None)
        elif how == "readlines-zero":
            out = stream.readlines(0)
        elif how == "readline-none":
            out = [stream.readline(None), stream.read(None)]
        else:
            out = stream.readlines(3)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps([line.decode() for line in out]).encode()]
"""

BODY = b"a\nbb\nccc"


def _ask(port, query, chunked):
    if chunked:
        head = b"Transfer-Encoding: chunked\r\n\r\n"
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    else:
        head = b"Content-Length: %d\r\n\r\n" % len(BODY)
        body = BODY
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"POST /?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % query + head + body)
        data = read_until_close(sock)
    finally:
        sock.close()
    status, _, rest = data.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", data
    return json.loads(rest.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("threads", [1, 4])
def test_wsgi_input_takes_none_as_no_bound(tmp_path, threads):
    (tmp_path / "conventions.py").write_text(textwrap.dedent(APP))
    d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads),
               app="conventions:app", workers=1)
    try:
        d.wait_ready()
        for chunked in (False, True):
            assert _ask(d.port, b"readlines-none", chunked) == ["a\n", "bb\n", "ccc"]
            assert _ask(d.port, b"readlines-zero", chunked) == ["a\n", "bb\n", "ccc"]
            assert _ask(d.port, b"readline-none", chunked) == ["a\n", "bb\nccc"]
            assert _ask(d.port, b"readlines-hint", chunked) == ["a\n", "bb\n"]
    finally:
        d.cleanup()
