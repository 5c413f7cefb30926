"""Hostile authorities in an absolute-form target (``GET http://h:99999/ HTTP/1.1``): no
500, no crash, and SERVER_NAME/SERVER_PORT stay a host and a port number 0-65535: an
authority that is none (a port that is no such number, a ``:`` too many, an unclosed
``[``) is ignored as one without a host (Host's then); it set SERVER_PORT to ``99999``,
``0x50`` or ``x:80`` over a good Host. A prefork server on loopback."""

import json
import re
import socket

import pytest

from harness import read_until_close
from test_wsgi_absolute_edges import echo, environ_of, server  # noqa: F401


def answer_to(server, target, host=b"good.example:8080"):  # noqa: F811
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        return read_until_close(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("target", [
    b"http://host:99999/", b"http://host:0x50/", b"http://host:+80/", b"http://host:-1/", b"http://host:80:90/",
    b"http://[::1/", b"http://[::1]x:80/", b"http://[::1]:99999/", b"http://host:000000080/",
    b"http://:80/", b"http://user@:80/", b"http:///p", b"http://@/",
])
def test_an_authority_that_is_none_leaves_the_host_to_host(server, target):  # noqa: F811
    env = environ_of(server, target, host=b"good.example:8080")
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("good.example", "8080"), env


@pytest.mark.parametrize("target, name, port", [
    (b"http://[::1]:80/", "::1", "80"), (b"http://user@host/", "host", "80"), (b"http://a@b@c:65535/", "c", "65535"),
    (b"http://host:/", "host", "80"), (b"https://host/", "host", "443"), (b"http://xn--zz/", "xn--zz", "80"),
    (b"http://h:0/", "h", "0"), (b"http://" + b"a" * 6000 + b":1/", "a" * 6000, "1"),
    (b"http://host%2F:81/", "host%2F", "81"),
])
def test_an_authority_gives_its_host_and_port(server, target, name, port):  # noqa: F811
    env = environ_of(server, target)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)


@pytest.mark.parametrize("target", [
    b"http://exa mple/", "http://b\u00fccher.de/".encode(), b"http://evil\\@good/", b"http://h:\xff/",
    b"http://h:\xb2/", b"http://h\x00/", b"http://" + b"a" * 70000 + b"/"])
def test_targets_the_parser_refuses_or_serves_never_give_a_500(server, target):  # noqa: F811
    data = answer_to(server, target)
    status = int(re.match(rb"HTTP/1.1 (\d+)", data).group(1))
    assert status in (200, 400, 414, 431), data[:200]
    if status == 200:
        env = json.loads(data.partition(b"\r\n\r\n")[2])
        assert env["SERVER_PORT"].isdigit() and int(env["SERVER_PORT"]) <= 65535, env
