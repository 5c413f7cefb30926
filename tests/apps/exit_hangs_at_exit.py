"""An events app whose /exit answers, then ends its worker with sys.exit(0); an atexit
hook then hangs: the worker's exit outlives graceful_timeout and the master kills it."""

import atexit
import sys
import time

atexit.register(lambda: time.sleep(3600))


def setup(server):
    def on_request(req, res):
        res.end("bye" if req.url == "/exit" else "ok")
        if req.url == "/exit":
            sys.exit(0)
    server.on("request", on_request)
