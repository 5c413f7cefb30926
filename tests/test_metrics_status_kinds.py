"""A status set as a float (``res.status_code = 201.0``), a str or an IntEnum is sent
as its int, as Node sends it, and counted under that code: one
``prefork_requests_total{code="201"}`` series, never a ``code="201.0"`` one beside it
(a series of its own that a dashboard's rate by code shows as another status). A real
daemon with two workers, with the access log off, on, and on with a format that
formats the status itself (the three ways a worker counts)."""

import socket

import pytest

from daemon import Daemon, wait_until


def get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def codes(samples):
    return {dict(labels)["code"]: value for (name, labels), value in samples.items()
            if name == "prefork_requests_total"}


@pytest.mark.parametrize("log", [(), ("--access-log", "-"), ("--access-log", "-", "--access-log-format", "{s!s} {D}")])
def test_a_status_set_as_a_float_str_or_enum_is_counted_as_its_int(log):
    d = Daemon(*log, app="apps.status_kinds:setup", workers=2)
    try:
        d.wait_ready(timeout=30)
        paths = ["/float"] * 6 + ["/int", "/str", "/enum"] + ["/float"] * 3
        for path in paths:
            assert get(d.port, path).startswith(b"HTTP/1.1 20")
        last = {}

        def counted():
            last["codes"] = found = codes(d.scrape())
            return sum(found.values()) == len(paths)
        wait_until(counted, 10, what=lambda: f"{len(paths)} responses counted: {last.get('codes')}")
        assert last["codes"] == {"201": 10, "202": 2}
    finally:
        d.cleanup()
