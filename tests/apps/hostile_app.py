"""An events app for the hostile-input daemon tests: each path misbehaves one way."""

import os


def setup(server):
    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path == "/never":
            return  # neither reads the body nor answers
        if path == "/big":
            res.end(b"x" * 65536)  # a response larger than a socket buffer's share
            return
        if path == "/sleep":
            server.loop.call_later(0.3, res.end, b"late")
            return
        # answers at once, never reading the body
        res.set_header("X-Pid", str(os.getpid()))
        res.end(f"pid {os.getpid()}")
    server.on("request", on_request)
