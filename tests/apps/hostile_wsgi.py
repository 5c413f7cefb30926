"""A WSGI app for the hostile-input daemon tests: each path misbehaves one way."""

import os


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise-before-start":
        raise RuntimeError("before start_response")
    if path == "/raise-after-start":
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("after start_response")
    if path == "/raise-in-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _raising_body()
    if path == "/str-body":
        start_response("200 OK", [])
        return ["not bytes"]
    if path == "/bad-status":
        start_response("abc", [])
        return [b"x"]
    if path == "/crlf-header":
        start_response("200 OK", [("X-A", "a\r\nX-Injected: 1")])
        return [b"x"]
    if path == "/crlf-status":
        start_response("200 OK\r\nX-Injected: 1", [])
        return [b"x"]
    if path == "/none":
        start_response("200 OK", [])
        return None
    if path == "/read":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("X-Pid", str(os.getpid()))])
    return [b"pid %d" % os.getpid()]


def _raising_body():
    yield b"part"
    raise RuntimeError("in the body")
