"""Events app for the test of what a worker holds: ``/modules`` answers the worker's
``sys.modules`` names, one a line."""

import sys


def setup(server):
    def on_request(req, res):
        res.end("\n".join(sorted(sys.modules)))
    server.on("request", on_request)
