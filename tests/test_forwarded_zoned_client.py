"""A trusted proxy's ``X-Forwarded-For: fe80::1%eth0`` (a client on the proxy's link)
names that client: the app's WSGI ``REMOTE_ADDR`` / ASGI ``client`` and the access
log's ``{h}`` show it without its zone, as a peer's own link-local address is shown
(uvicorn and gunicorn take the address; its zone means nothing off the proxy's host).
A real daemon, the header sent by a trusted peer (127.0.0.1, trusted by default)."""

import json
import socket

import pytest

from daemon import wait_until
from logline import LINE, log_lines

HOPS = ["fe80::1%eth0", "[fe80::2%eth0]:4711", "203.0.113.9, fe80::3%3"]


def _lines(path):
    try:
        with open(path) as fh:
            return [json.loads(line) for line in fh]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("interface,app", [("wsgi", "apps.peer_record:wsgi"), ("asgi", "apps.peer_record:asgi")])
def test_a_forwarded_link_local_client_with_a_zone_is_the_client_without_it(daemons, tmp_path, interface, app):
    record = str(tmp_path / "record")
    access = str(tmp_path / "access.log")
    d = daemons("--interface", interface, "--access-log-flush", "0", app=app, workers=1, access_log=access,
                env={"PEER_RECORD": record})
    d.wait_ready(timeout=30)
    for i, hop in enumerate(HOPS):
        with socket.create_connection(("127.0.0.1", d.port), timeout=20) as client:
            client.sendall(b"GET /%d HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: %s\r\nConnection: close\r\n\r\n"
                           % (i, hop.encode()))
            assert b"".join(iter(lambda: client.recv(65536), b"")).startswith(b"HTTP/1.1 200 ")
    seen = wait_until(lambda: (lambda r: r if len(r) == len(HOPS) else None)(_lines(record)), 20,
                      what="every request served")
    assert {entry[0]: entry[1] for entry in seen} == {"/0": "fe80::1", "/1": "fe80::2", "/2": "fe80::3"}
    logged = wait_until(lambda: (lambda r: r if len(r) == len(HOPS) else None)(log_lines(access)), 10,
                        what="the access log lines")
    assert sorted(LINE.fullmatch(line).group(1) for line in logged) == ["fe80::1", "fe80::2", "fe80::3"], logged
