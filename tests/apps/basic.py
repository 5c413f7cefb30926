"""Apps for the daemon tests (events interface: setup(server))."""

import os
import time


def setup(server):
    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path.startswith("/sleep/"):
            # answers after N seconds without blocking the loop
            server.loop.call_later(float(path.rsplit("/", 1)[1]), res.end, f"slept {os.getpid()}")
            return
        if path.startswith("/block/"):  # answers after N seconds of running, its loop blocked (no heartbeat)
            for _ in range(int(float(path.rsplit("/", 1)[1]) * 100)):
                time.sleep(0.01)  # (in steps: a freeze stops the count, as it would stop work)
            res.end(f"blocked {os.getpid()}")
            return
        if path == "/spin":
            while True:  # a handler that never returns: the heartbeat stops
                time.sleep(0.01)
        res.set_header("X-Pid", str(os.getpid()))
        res.end(f"pid {os.getpid()}")
    server.on("request", on_request)
