"""Apps for the drain tests, WSGI (``app``) and events (``setup``); the body is the path.
``/hold`` writes the file HOLD_MARK, then holds its call (and, with ``threads = 1`` or the
events API, the worker's loop) until the file HOLD_RELEASE exists (20 s at most);
``/term-midway`` (events) writes its head and a chunk, sends its own worker a TERM, then
ends; any other path answers at once."""

import os
import signal
import time


def _hold(path):
    if path == "/hold":
        with open(os.environ["HOLD_MARK"], "w") as fh:
            fh.write(str(os.getpid()))
        end = time.monotonic() + 20
        while not os.path.exists(os.environ["HOLD_RELEASE"]) and time.monotonic() < end:
            time.sleep(0.01)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    _hold(path)
    body = path.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def setup(server):
    def on_request(req, res):
        _hold(req.url)
        if req.url == "/term-midway":
            res.write("/term-")  # the head is fixed here, kept alive
            os.kill(os.getpid(), signal.SIGTERM)  # heard before the end() below
            res.end("midway")
            return
        res.end(req.url)
    server.on("request", on_request)
