"""A status an app sets after its response went out is counted as it is, whatever it
is: one with a space keeps its method label (``GET``, not ``GET 20`` with the code
``0``), and a float that is no int (``inf``) does not raise in the worker's observer
(its responses went uncounted). A real daemon, with the
access log off and on (the two ways a worker counts)."""

import socket

import pytest

from daemon import Daemon, wait_until


def exchange(port, paths):
    """The paths asked one after the other on one kept-alive connection: the answers."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for path in paths:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = b""
            while not data.endswith(b"\r\n\r\nok"):
                chunk = sock.recv(65536)
                assert chunk, (path, data)
                data += chunk
            answers.append(data)
    return answers


def requests(samples):
    return {(dict(labels)["method"], dict(labels)["code"]): value for (name, labels), value in samples.items()
            if name == "prefork_requests_total"}


@pytest.mark.parametrize("log", [(), ("--access-log", "-")])
def test_a_status_set_late_is_counted_as_it_is(log):
    d = Daemon(*log, app="apps.late_status:setup", workers=1)
    try:
        d.wait_ready(timeout=30)
        paths = ["/space", "/inf", "/inf", "/", "/space"]
        answers = exchange(d.port, paths)
        assert all(answer.startswith(b"HTTP/1.1 200 OK\r\n") for answer in answers), answers
        last = {}

        def counted():
            last["found"] = found = requests(d.scrape())
            return sum(found.values()) == len(paths)
        wait_until(counted, 10, what=lambda: f"{len(paths)} responses counted: {last.get('found')}")
        assert last["found"] == {("GET", "20 0"): 2, ("GET", "inf"): 2, ("GET", "200"): 1}
        assert "OverflowError" not in d.log()
    finally:
        d.cleanup()
