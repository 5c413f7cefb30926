"""WSGI app that holds its call until told: ``/hold`` writes the file WSGI_HOLD_MARK, then
waits (at most 20 s) for the file WSGI_HOLD_RELEASE to exist; any other path answers at once."""

import os
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/hold":
        with open(os.environ["WSGI_HOLD_MARK"], "w") as fh:
            fh.write(str(os.getpid()))
        end = time.monotonic() + 20
        while not os.path.exists(os.environ["WSGI_HOLD_RELEASE"]) and time.monotonic() < end:
            time.sleep(0.01)
    body = environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
