"""WSGI app that reads its whole upload: the call's start is marked in the file
WSGI_UPLOAD_STARTED, and the error a read raises, if one does, is written to the file
WSGI_UPLOAD_ERROR (``Type: message``)."""

import os


def app(environ, start_response):
    with open(os.environ["WSGI_UPLOAD_STARTED"], "w") as fh:
        fh.write(str(os.getpid()))
    try:
        size = len(environ["wsgi.input"].read())
    except Exception as exc:
        with open(os.environ["WSGI_UPLOAD_ERROR"], "w") as fh:
            fh.write(f"{type(exc).__name__}: {exc}")
        raise
    body = str(size).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
