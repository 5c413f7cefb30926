"""The operations endpoints read no body, so a request that asks ``Expect:
100-continue`` is answered at once without the ``100 Continue`` that would invite its
body (as nginx answers a GET it serves at once), and its connection closes after the
answer; an endpoint request with no body to send still keeps its connection."""

import socket

from harness import read_until_close


def test_an_expect_continue_probe_is_answered_without_inviting_its_body(daemons):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    for method, path, status in (("GET", "/healthz", b"200"), ("GET", "/metrics", b"200"),
                                 ("POST", "/status.json", b"405"), ("GET", "/nowhere", b"404")):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         f"Expect: 100-continue\r\n\r\n".encode())
            got = read_until_close(sock)  # the body is never sent: the answer and the close come
        assert not got.startswith(b"HTTP/1.1 100"), got
        assert got.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in got, got
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_close(sock).startswith(b"HTTP/1.1 200 ")
    assert "Traceback" not in d.log(), d.log()
