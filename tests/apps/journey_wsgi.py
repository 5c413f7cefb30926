"""A plain WSGI app for the journey tests, served the same by prefork and by gunicorn.

A streamed response waits between its blocks on a FIFO named in the query string: the
app opens it for reading, which blocks until the test opens it for writing, so the test
decides when the next block is made (no timing involved).
"""

import io
import json
import os
import socket
import threading

_CLOSED = {}
_LOCK = threading.Lock()


def _wait_on(fifo):
    with open(fifo, "rb") as fh:
        fh.read(1)


class _Text(str):
    """A str subclass, as frameworks' safe or lazy strings are."""


def wrapped_bytes(size):
    """The ``size`` bytes /wrapped answers: byte i is i % 241."""
    return (bytes(range(241)) * (size // 241 + 1))[:size]


class _Closing:
    """A file-like object that counts its close() calls by kind."""

    def __init__(self, raw):
        self.raw = raw

    def read(self, size=-1):
        return self.raw.read(size)

    def seek(self, offset):
        self.raw.seek(offset)

    def close(self):
        with _LOCK:
            _CLOSED[type(self).__name__] = _CLOSED.get(type(self).__name__, 0) + 1


class _ReadOnly:
    """read() and seek() only: nothing to close."""

    def __init__(self, data):
        self.raw = io.BytesIO(data)

    def read(self, size=-1):
        return self.raw.read(size)

    def seek(self, offset):
        self.raw.seek(offset)


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
    if path == "/wrapped":  # wsgi.file_wrapper around QUERY: kind-size[-offset]
        kind, size, *offset = query.split("-")
        size = int(size)
        data = wrapped_bytes(size)
        if kind == "file":
            name = os.path.abspath(f"wrapped-{size}.bin")  # in the server's working directory
            if not os.path.exists(name):
                with open(name + ".part", "wb") as fh:
                    fh.write(data)
                os.replace(name + ".part", name)
            filelike = open(name, "rb")
        elif kind == "bytesio":
            filelike = _Closing(io.BytesIO(data))
        else:  # an object with read() alone
            filelike = _ReadOnly(data)
        if offset:
            filelike.seek(int(offset[0]))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](filelike, 32768)
    if path == "/wrapped-closed":
        with _LOCK:
            body = str(_CLOSED.get(query, 0)).encode()
        start_response("200 OK", plain)
        return [body]
    if path == "/header-type":  # a header value that is not a str (PEP 3333: native strings only)
        value = {"bytes": b"v", "int": 5, "list": ["a", "b"], "none": None, "str": "v", "sub": _Text("v")}[query]
        start_response("200 OK", plain + [("X-Value", value)])
        return [b"typed"]
    if path == "/header-name-type":
        start_response("200 OK", plain + [(b"X-Name", "v")])
        return [b"typed"]
    if path == "/early-hints":  # gunicorn's wsgi.early_hints: a 103 before the final answer
        send_hints = environ.get("wsgi.early_hints")
        if send_hints is None:
            start_response("501 Not Implemented", plain)
            return [b"no wsgi.early_hints"]
        send_hints([("Link", "</style.css>; rel=preload; as=style"), ("Link", "</app.js>; rel=preload")])
        if query == "bad":
            try:
                send_hints([("Link", "</x>\r\nSet-Cookie: a=b")])
            except Exception as exc:  # refused, as gunicorn refuses it
                start_response("400 Bad Request", plain)
                return [type(exc).__name__.encode()]
        start_response("200 OK", plain)
        send_hints([("Link", "</late.css>; rel=preload")])  # the head is not out yet: still sent
        return [b"final"]
    if path == "/pid":
        start_response("200 OK", plain)
        return [str(os.getpid()).encode()]
    start_response("404 Not Found", plain)
    return [b"not found\n"]
