"""An events app that calls an upstream service from its request handler."""

import os

import prefork


def setup(server):
    upstream_port = int(os.environ["UPSTREAM_PORT"])

    def on_request(req, res):
        if req.url == "/fast":
            res.end("fast")
            return
        upstream = prefork.get({"host": "127.0.0.1", "port": upstream_port, "path": "/slow"})  # the worker's loop

        def on_response(up):
            chunks = []
            up.on("data", chunks.append)
            up.on("end", lambda: res.end(b"upstream said: " + b"".join(chunks)))
        upstream.on("response", on_response)
        upstream.on("error", lambda err: (res.write_head(502), res.end(err.code)))
    server.on("request", on_request)
