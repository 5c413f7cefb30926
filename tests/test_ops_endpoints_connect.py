"""A CONNECT to the operations endpoints is answered as any method other than GET or
HEAD is (405 with ``Allow``, 404 for a target that is no endpoint), and its connection
is closed after the answer, as nginx answers it: it was closed without a byte. Real
daemon; every process is killed by PID at the end."""

import socket

import pytest

from harness import read_until_close


def ask(port, request):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(request.encode())
        head, _, body = read_until_close(sock).partition(b"\r\n\r\n")
    finally:
        sock.close()
    return head.decode("latin-1").lower(), body


@pytest.mark.parametrize("target, status", [("/healthz", "405"), ("/metrics", "405"), ("127.0.0.1:80", "404")])
def test_a_connect_to_the_endpoints_gets_an_answer_and_a_close(daemons, target, status):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    head, body = ask(port, f"CONNECT {target} HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(f"http/1.1 {status} "), head
    assert "\r\nconnection: close" in head and "\r\ncache-control: no-store" in head, head
    assert ("\r\nallow: get, head" in head) == (status == "405"), head
    assert f"\r\ncontent-length: {len(body)}" in head, (head, body)
    # and the endpoints go on answering
    head, _ = ask(port, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith("http/1.1 200"), head
