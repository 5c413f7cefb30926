"""A body longer than the app's Content-Length is cut to it and logged once per
response. With threads the thread stopped a body whose blocks ended right at the
Content-Length before the loop saw a byte past it, and a file sent with sendfile was
never measured against it: neither was logged (a 100 MB file with a 5 MB
Content-Length, never; with one thread only when the file happened to be iterated)."""

import os
import socket

import pytest

from daemon import scratch_dir, wait_until

LENGTH = 64 * 1024
MESSAGE = "sent more than its Content-Length"


def fetch_all(port, paths):
    """The bodies of ``paths`` asked on one kept-alive connection, one after another."""
    bodies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for path in paths:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and f"Content-Length: {LENGTH}\r\n".encode() in head, head
            while len(body) < LENGTH:
                more = sock.recv(65536)
                assert more, "closed mid-body"
                body += more
            bodies.append(body)
    return bodies


@pytest.mark.parametrize("threads", ["1", "4"])
@pytest.mark.parametrize("path, fill", [("/file", b"f"), ("/reader", b"r"), ("/blocks", b"b")])
def test_a_body_longer_than_its_content_length_is_logged_once_each_time(daemons, threads, path, fill):
    blob = os.path.join(scratch_dir("prefork-over-length-"), "blob")
    with open(blob, "wb") as fh:
        fh.write(b"f" * LENGTH * 16)
    d = daemons("--interface", "wsgi", "--threads", threads, app="apps.wsgi_over_length:app", workers=1,
                env={"OVER_LENGTH_FILE": blob})
    d.wait_ready()
    count = 10
    bodies = fetch_all(d.port, [path] * count)
    assert bodies == [fill * LENGTH] * count  # cut right, the connection kept
    wait_until(lambda: d.log().count(MESSAGE) >= count, 5,
               what=lambda: f"{count} responses logged, not {d.log().count(MESSAGE)}:\n{d.log()}")
    assert fetch_all(d.port, [path]) == [fill * LENGTH]
    wait_until(lambda: d.log().count(MESSAGE) >= count + 1, 5, what="the last one logged")
    assert d.log().count(MESSAGE) == count + 1, d.log()  # once per response
