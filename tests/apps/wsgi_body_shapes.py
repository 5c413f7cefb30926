"""A WSGI app answering one large body (``?N`` bytes, 8 MiB by default) in the shape its
path names: ``/iter`` one block in an iterator (Flask's bytes return through Werkzeug's
``ClosingIterator``), ``/gen`` a generator, ``/write`` the legacy ``write()`` then an
empty list, ``/list`` a list; ``/ping`` a small answer."""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/ping":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"pong"]
    body = b"x" * int(environ.get("QUERY_STRING") or 8 << 20)
    write = start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                      ("Content-Length", str(len(body)))])
    if path == "/iter":
        return iter([body])
    if path == "/gen":
        return (block for block in [body])
    if path == "/write":
        write(body)
        return []
    return [body]
