"""A client address taken from a trusted X-Forwarded-For comes without the proxy
connection's port: REMOTE_PORT is "0" (the client's own port is not known), as the ASGI
scope's client is (address, 0) and uvicorn's proxy headers give; a request on the same
keep-alive connection without the header gets the peer's address and port back (a
forwarded address that is the peer's own keeps its port under WSGI, as a PROXY header's
source named again by the balancer's X-Forwarded-For does; ASGI gives 0 as uvicorn)."""

import json

import pytest

from daemon import wait_until


def _lines(path):
    try:
        with open(path) as fh:
            return [json.loads(line) for line in fh]
    except FileNotFoundError:
        return []


@pytest.mark.parametrize("interface,app,zero", [("wsgi", "apps.peer_record:wsgi_port", "0"),
                                                ("asgi", "apps.peer_record:asgi_port", 0)])
def test_a_forwarded_client_gets_no_port_of_the_proxys_connection(daemons, tmp_path, interface, app, zero):
    import socket
    record = str(tmp_path / "record")
    d = daemons("--interface", interface, app=app, workers=1, env={"PEER_RECORD": record})
    d.wait_ready()
    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as client:
        port = client.getsockname()[1]
        client.sendall(b"GET /forwarded HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
                       b"GET /self HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"
                       b"GET /direct HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while client.recv(65536):
            pass
    seen = wait_until(lambda: (lambda r: r if len(r) == 3 else None)(_lines(record)), 20, what="all three served")
    direct = str(port) if interface == "wsgi" else port
    assert seen == [["/forwarded", "203.0.113.7", zero], ["/self", "127.0.0.1", direct if interface == "wsgi" else 0],
                    ["/direct", "127.0.0.1", direct]], seen
