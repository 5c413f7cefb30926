"""The built-in demo app (events interface), served when no APP is named.

Routes:
  GET /            "Hello from prefork" and the worker's pid
  GET /headers     the request's headers as JSON
  POST /echo       the request body, echoed
  GET /stream      a chunked response in three parts
  anything else    404
"""

import json
import os


def setup(server):
    def on_request(req, res):
        path = req.url.split("?", 1)[0]
        if path == "/":
            res.set_header("Content-Type", "text/plain; charset=utf-8")
            res.end(f"Hello from prefork (pid {os.getpid()})\n")
        elif path == "/headers":
            res.set_header("Content-Type", "application/json")
            res.end(json.dumps(req.headers, indent=2) + "\n")
        elif path == "/echo" and req.method == "POST":
            chunks = []
            req.on("data", chunks.append)
            req.once("end", lambda: res.end(b"".join(chunks)))  # (once: no cycle through req kept)
        elif path == "/stream":
            res.set_header("Content-Type", "text/plain; charset=utf-8")
            for part in ("one\n", "two\n"):
                res.write(part)
            res.end("three\n")
        else:
            res.status_code = 404
            res.end("not found\n")
    server.on("request", on_request)


def wsgi_app(environ, start_response):
    """The demo as a WSGI app (--interface wsgi with no APP)."""
    body = f"Hello from prefork WSGI (pid {os.getpid()}): {environ['PATH_INFO']}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
