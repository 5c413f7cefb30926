"""A WSGI app whose body is longer than the Content-Length it gives (``LENGTH``): a
regular file through ``wsgi.file_wrapper`` (``/file``, sent with sendfile), an object
with ``read()`` only through it (``/reader``), and a generator whose blocks end right
at the Content-Length before one more (``/blocks``). The file is ``OVER_LENGTH_FILE``."""

import io
import os

LENGTH = 64 * 1024


class Reader:
    """A file-like object with nothing but ``read()`` (iterated, never sent with sendfile)."""

    def __init__(self, size):
        self.stream = io.BytesIO(b"r" * size)

    def read(self, n=-1):
        return self.stream.read(n)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(LENGTH))])
    if path == "/file":
        return environ["wsgi.file_wrapper"](open(os.environ["OVER_LENGTH_FILE"], "rb"), 8192)
    if path == "/reader":
        return environ["wsgi.file_wrapper"](Reader(LENGTH * 4), 8192)
    return (b"b" * 8192 for _ in range(LENGTH // 8192 + 3))
