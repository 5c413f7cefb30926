"""A WSGI app whose ``/hang`` never returns (every other path is answered at once),
quick to import: a worker booting it sends its first heartbeat well within a short
``--timeout`` on a loaded machine too (the test module's app imports pytest first)."""

import os
import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/hang":  # never returns
        while True:
            time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid %d" % os.getpid()]
