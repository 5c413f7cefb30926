"""The operations endpoints under requests an operator's tools send: absolute-form
targets (a forward proxy, some probes), HEAD, query strings; every answer is
``Cache-Control: no-store``. Real daemons; every process is killed by PID at the end."""

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


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz", "/status", "/status.json"])
def test_every_endpoint_answers_an_absolute_form_target_and_is_not_cached(daemons, path):
    d = daemons(workers=1)
    d.wait_ready()
    port = d.metrics_port()
    origin, origin_body = ask(port, f"GET {path}?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    absolute, absolute_body = ask(port, f"GET http://127.0.0.1:{port}{path}?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                        "Connection: close\r\n\r\n")
    for head in (origin, absolute):
        assert head.startswith("http/1.1 200 ok"), head
        assert "\r\ncache-control: no-store" in head, head
    assert absolute_body[:12] == origin_body[:12]  # the same document
    head, _ = ask(port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith("http/1.1 200 ok") and "\r\ncache-control: no-store" in head, head
    head, _ = ask(port, f"GET HTTP://127.0.0.1:{port}/nowhere{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith("http/1.1 404"), head
