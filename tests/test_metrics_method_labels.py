"""The ``method`` label of ``prefork_requests_total`` is bounded, and /metrics keeps
answering, whatever an app sets ``req.method`` to (a method-override middleware copies
a header the client chose): a method the HTTP parser reads keeps its name, any other
text (one with a space, a quote, a backslash, or just new each time) is counted as
``other``, in one series. A real daemon with two workers, with the access log off and
on (the two ways a worker counts), checked by ``promtool check metrics`` when Debian's
``prometheus`` package is installed."""

import shutil
import socket
import subprocess

import pytest

from daemon import Daemon, wait_until
from harness import read_until_close


def post(port, override):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nX-HTTP-Method-Override: {override}\r\n"
                     "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        return read_until_close(sock)


def scrape_text(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return body


def methods(samples):
    return {dict(labels)["method"]: value for (name, labels), value in samples.items()
            if name == "prefork_requests_total"}


@pytest.mark.parametrize("log", [(), ("--access-log", "-")])
def test_any_method_an_app_sets_is_counted_in_a_bounded_set_of_labels(log):
    d = Daemon(*log, app="apps.method_override:setup", workers=2)
    try:
        d.wait_ready(timeout=30)
        hostile = ["FOO BAR", 'x"y\\z', "GET 200", "get"] + [f"M{i}" for i in range(40)]
        for override in ["DELETE", "PROPFIND", "DELETE"] + hostile:
            assert post(d.port, override).startswith(b"HTTP/1.1 200 ")
        last = {}

        def counted():
            last["methods"] = found = methods(d.scrape())
            return sum(found.values()) == 3 + len(hostile)
        wait_until(counted, 10, what=lambda: f"every response counted: {last.get('methods')}")
        assert last["methods"] == {"DELETE": 2, "PROPFIND": 1, "other": len(hostile)}
        body = scrape_text(d.metrics_port())
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
            assert check.returncode == 0, check.stderr
    finally:
        d.cleanup()
