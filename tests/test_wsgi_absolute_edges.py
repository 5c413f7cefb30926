"""The WSGI environ of a request whose target is in absolute form (``GET
http://example.com:8080/p HTTP/1.1``): RFC 9112 3.2.2 says the target's authority, not
``Host``, names the host. A prefork server on loopback, raw requests from a socket."""

import json
import socket

import pytest

from harness import read_until_close
from prefork.wsgi import WSGIAdapter

KEYS = ("SERVER_NAME", "SERVER_PORT", "HTTP_HOST", "PATH_INFO", "QUERY_STRING", "RAW_URI", "SCRIPT_NAME",
        "wsgi.url_scheme")


def echo(environ, start_response):
    body = json.dumps({key: environ.get(key) for key in KEYS}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def server(serve):
    return serve(lambda srv, st_: WSGIAdapter(echo).setup(srv))


def environ_of(server, target, host=b"other"):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    return json.loads(body)


@pytest.mark.parametrize("target, name, port, path, query", [
    (b"http://example.com:8080/p%20q?a=1#frag", "example.com", "8080", "/p q", "a=1"),
    (b"http://example.com/p", "example.com", "80", "/p", ""),
    (b"https://example.com/p", "example.com", "443", "/p", ""),  # the target's scheme, not the connection's
    (b"HTTP://Example.COM:81", "Example.COM", "81", "/", ""),
    (b"http://example.com?x=1", "example.com", "80", "/", "x=1"),
    (b"http://[::1]:9/z", "::1", "9", "/z", ""),
    (b"http://user:secret@example.com:7/u", "example.com", "7", "/u", ""),
])
def test_an_absolute_form_target_names_the_host_and_its_path_is_path_info(server, target, name, port, path, query):
    env = environ_of(server, target)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)
    assert (env["PATH_INFO"], env["QUERY_STRING"]) == (path, query)
    assert env["HTTP_HOST"] == "other"  # the header as sent
    assert env["RAW_URI"] == target.decode()
    assert env["wsgi.url_scheme"] == "http"


def test_an_origin_form_target_still_takes_the_host_header(server):
    env = environ_of(server, b"/plain?q", host=b"other:82")
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["PATH_INFO"], env["QUERY_STRING"]) == \
        ("other", "82", "/plain", "q")
    env = environ_of(server, b"/plain", host=b"other")
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("other", "80")
