"""Plain WSGI apps for the daemon tests."""

BLOCK = b"z" * 65536


def big(environ, start_response):
    """200 MB streamed as a generator of 64 KiB blocks."""
    size = int(environ.get("QUERY_STRING") or 200 * 1024 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])

    def blocks():
        sent = 0
        while sent < size:
            block = BLOCK[:size - sent]
            sent += len(block)
            yield block
    return blocks()


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, World!"]
