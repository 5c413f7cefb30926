"""A plain WSGI app for the journey tests, served the same by prefork and by gunicorn.

A streamed response waits between its blocks on a FIFO named in the query string: the
app opens it for reading, which blocks until the test opens it for writing, so the test
decides when the next block is made (no timing involved).
"""

import json
import os
import socket


def _wait_on(fifo):
    with open(fifo, "rb") as fh:
        fh.read(1)


def _shown(value):
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, tuple):
        return list(value)
    return "<object>"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    plain = [("Content-Type", "text/plain")]
    if path == "/stream":
        def blocks():
            yield b"first\n"
            _wait_on(query)
            yield b"second\n"
        start_response("200 OK", plain)
        return blocks()
    if path == "/write":
        write = start_response("200 OK", plain)
        write(b"first\n")
        _wait_on(query)
        return [b"second\n"]
    if path == "/environ":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({key: _shown(value) for key, value in environ.items()}).encode()]
    if path == "/upstream":  # a call blocked in a real socket read (a slow database, say)
        with socket.create_connection(("127.0.0.1", int(query)), timeout=60) as upstream:
            got = upstream.recv(100)
        start_response("200 OK", plain)
        return [b"upstream said " + got]
    if path == "/errors":
        environ["wsgi.errors"].write(f"journey-errors {query}\n")
        environ["wsgi.errors"].flush()
        start_response("200 OK", plain)
        return [b"logged"]
    if path == "/returns-none":
        start_response("200 OK", plain)
        return None
    if path == "/no-start-response":
        return [b"body without a head"]
    if path == "/no-start-response-gen":
        return iter([b"body without a head"])
    if path == "/latin1-only":
        start_response("200 OK", plain + [("X-Name", "\u20ac")])
        return [b"never"]
    if path == "/pid":
        start_response("200 OK", plain)
        return [str(os.getpid()).encode()]
    start_response("404 Not Found", plain)
    return [b"not found\n"]
