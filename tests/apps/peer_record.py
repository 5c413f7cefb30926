"""Apps that write each request's path and client address to the file named by
PEER_RECORD; ``/block`` holds the worker's loop for 2 s (a busy worker), writing
``block`` when it starts."""

import json
import os
import time


def _record(*fields):
    with open(os.environ["PEER_RECORD"], "a") as fh:
        fh.write(json.dumps(fields) + "\n")


def wsgi(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/block":
        _record("block")
        time.sleep(2.0)
    _record(path, environ["REMOTE_ADDR"], environ["wsgi.url_scheme"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/block":
        _record("block")
        time.sleep(2.0)
    _record(path, (scope["client"] or [""])[0], scope["scheme"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_port(environ, start_response):
    """Records the path, REMOTE_ADDR and REMOTE_PORT."""
    _record(environ["PATH_INFO"], environ["REMOTE_ADDR"], environ["REMOTE_PORT"])
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


async def asgi_port(scope, receive, send):
    """Records the path and the scope's client (address, port)."""
    if scope["type"] != "http":
        return
    _record(scope["path"], *scope["client"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
