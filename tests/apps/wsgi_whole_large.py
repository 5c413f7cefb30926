"""A WSGI app whose answer is one large bytes in a list (``/?N``: N bytes), as an app
that builds an export or a report in memory returns it."""


def app(environ, start_response):
    size = int(environ.get("QUERY_STRING") or 64 * 1024 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [b"x" * size]
