"""A HEAD to the operations endpoints gets the very head its GET gets (RFC 9110, 9.3.2):
Content-Length included, so a client (curl -I, a load balancer's HEAD check) sees the
length its GET would carry."""

import socket

from daemon import Daemon
from harness import read_until_close


def head_of(port, method, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], fields, body


def test_a_head_to_each_endpoint_carries_the_content_length_of_its_get():
    d = Daemon(workers=1)
    try:
        d.wait_ready()
        port = d.metrics_port()
        for path in ("/metrics", "/healthz", "/readyz", "/status", "/status.json", "/absent"):
            got_status, got, got_body = head_of(port, "GET", path)
            head_status, head, head_body = head_of(port, "HEAD", path)
            assert head_status == got_status, path
            assert head_body == b"", path
            assert got["content-length"] == str(len(got_body)), path
            assert "transfer-encoding" not in head, path
            if path in ("/metrics", "/status", "/status.json"):  # these change between two requests
                assert int(head["content-length"]) > 0, path
            else:
                assert head["content-length"] == got["content-length"], path
            assert head["content-type"] == got["content-type"], path
    finally:
        d.cleanup()
