"""The scope of a request whose target is in absolute form (``GET http://example.com:8080/p``,
as a client talking to a proxy sends it), on prefork (a Server in the test process) and
on uvicorn: the same ``path``, ``raw_path`` and ``query_string`` (the target's), the
same ``server`` (the address the connection came in on) and the same ``host`` header
(as the client sent it: the scope's headers are what was received)."""

import json
import socket

import pytest

import test_asgi_apps as apps
from harness import read_until_close
from test_asgi import asgi_server

pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def uvicorn_port():
    with apps.uvicorn_serving() as port:
        yield port


def scope_for(port, target, host=b"other"):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = read_until_close(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    if b"transfer-encoding: chunked" in head.lower():  # uvicorn's
        size, _, rest = body.partition(b"\r\n")
        body = rest[:int(size, 16)]
    return json.loads(body)


@pytest.mark.parametrize("target, path, raw_path, query", [
    (b"http://example.com:8080/p/scope?q=1", "/p/scope", "/p/scope", "q=1"),
    (b"HTTP://EXAMPLE.com/a%20b/scope?x=%20", "/a b/scope", "/a%20b/scope", "x=%20"),
    (b"http://user@example.com/scope", "/scope", "/scope", ""),
    (b"https://example.com:8443/scope", "/scope", "/scope", ""),
], ids=["port-query", "scheme-case-escapes", "userinfo", "https"])
def test_an_absolute_form_target_gives_the_scope_uvicorn_gives(serve, uvicorn_port, target, path, raw_path, query):
    st = asgi_server(serve, apps.app)
    scopes = {name: scope_for(port, target) for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port))}
    for name, port in (("uvicorn", uvicorn_port), ("prefork", st.port)):
        scope = scopes[name]
        assert (scope["path"], scope["raw_path"], scope["query_string"]) == (path, raw_path, query), (name, scope)
        assert scope["server"] == ["127.0.0.1", port], (name, scope)
        assert scope["headers"][0] == ["host", "other"], (name, scope)
    del scopes["uvicorn"]["server"], scopes["prefork"]["server"]
    assert scopes["prefork"] == scopes["uvicorn"]
