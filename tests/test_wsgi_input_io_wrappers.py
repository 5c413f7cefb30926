"""``wsgi.input`` is a readable ``io`` stream whatever the body: an app that wraps it
in ``io.TextIOWrapper`` (a CSV upload read with ``csv.reader``), ``io.BufferedReader``
or uses it in a ``with`` works the same for an empty body (a GET, a POST with
``Content-Length: 0``) as for one with bytes, on the loop and on threads."""

import socket
import textwrap

import pytest

from daemon import Daemon
from harness import read_until_close

APP = """
    import csv
    import io

    def app(environ, start_response):
        stream = environ["wsgi.input"]
        how = environ["QUERY_STRING"]
        if how == "text":
            out = io.TextIOWrapper(stream, encoding="utf-8").read()
        elif how == "csv":
            out = repr(list(csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))))
        elif how == "buffered":
            out = io.BufferedReader(stream).read().decode()
        else:
            with stream as body:
                out = "%s %s %s %s" % (body.readable(), body.writable(), body.seekable(), body.read().decode())
        data = out.encode()
        start_response("200 OK", [("Content-Length", str(len(data)))])
        return [data]
"""


def _ask(port, query, body):
    head = b"" if body is None else b"Content-Length: %d\r\n" % len(body)
    method = b"GET" if body is None else b"POST"
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"%s /?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n%s"
                     % (method, query, head, body or b""))
        data = read_until_close(sock)
    finally:
        sock.close()
    status, _, rest = data.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", data
    return rest.partition(b"\r\n\r\n")[2].decode()


@pytest.mark.parametrize("threads", [1, 4])
def test_an_empty_wsgi_input_wraps_in_io_streams_as_a_body_does(tmp_path, threads):
    (tmp_path / "wrapping.py").write_text(textwrap.dedent(APP))
    d = Daemon("--app-dir", str(tmp_path), "--interface", "wsgi", "--threads", str(threads),
               app="wrapping:app", workers=1)
    try:
        d.wait_ready()
        assert _ask(d.port, b"text", "a,caf\u00e9\n".encode()) == "a,caf\u00e9\n"
        assert _ask(d.port, b"csv", b"a,b\r\nc,d\r\n") == "[['a', 'b'], ['c', 'd']]"
        assert _ask(d.port, b"with", b"xyz") == "True False False xyz"
        for body in (None, b""):
            assert _ask(d.port, b"text", body) == ""
            assert _ask(d.port, b"csv", body) == "[]"
            assert _ask(d.port, b"buffered", body) == ""
            assert _ask(d.port, b"with", body) == "True False False "
    finally:
        d.cleanup()
