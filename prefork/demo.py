"""The built-in demo app (events interface), served when no APP is named.

Routes:
  GET /            "Hello from prefork" and the worker's pid
  GET /headers     the request's headers as JSON
  POST /echo       the request body, echoed
  GET /stream      a chunked response in three parts
  anything else    404
The same routes as a WSGI app (``wsgi_app``) for ``--interface wsgi``.
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
    """The demo as a WSGI app (--interface wsgi with no APP): the same routes."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    text = [("Content-Type", "text/plain; charset=utf-8")]
    if path == "/":
        body = f"Hello from prefork WSGI (pid {os.getpid()})\n".encode()
    elif path == "/headers":
        text = [("Content-Type", "application/json")]
        body = (json.dumps(_request_headers(environ), indent=2) + "\n").encode()
    elif path == "/echo" and method == "POST":
        text, body = [], environ["wsgi.input"].read()
    elif path == "/stream":
        start_response("200 OK", text)
        return iter([b"one\n", b"two\n", b"three\n"])  # (an iterator: streamed, chunked)
    else:
        start_response("404 Not Found", text + [("Content-Length", "10")])
        return [b"not found\n"]
    start_response("200 OK", text + [("Content-Length", str(len(body)))])
    return [body]


def _request_headers(environ):
    """The request's header fields as the events demo shows them: lower-case names."""
    fields = {name: environ[name] for name in ("CONTENT_TYPE", "CONTENT_LENGTH") if environ.get(name)}
    fields.update((name[5:], value) for name, value in environ.items() if name.startswith("HTTP_"))
    return {name.lower().replace("_", "-"): value for name, value in fields.items()}
