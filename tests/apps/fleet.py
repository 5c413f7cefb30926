"""Apps for the PROXY protocol and multi-host tests: each answer names the app version,
the worker and the client address the server saw."""

import os


def _setup(server, version):
    def on_request(req, res):
        chunks = []
        req.on("data", chunks.append)

        def answer():
            sock = req.socket
            body = (f"{version} host={sock.address().get('address')} pid={os.getpid()} "
                    f"client={sock.remote_address}:{sock.remote_port} "
                    f"family={sock.remote_family} bytes={sum(map(len, chunks))}")
            res.set_header("X-Version", version)
            if "/slow" in req.url:  # in flight a little while, without blocking the loop
                server.loop.call_later(0.03, res.end, body)
            else:
                res.end(body)
        req.on("end", answer)
    server.on("request", on_request)


def v1(server):
    _setup(server, "v1")


def v2(server):
    _setup(server, "v2")


def wsgi(environ, start_response):
    body = f"wsgi client={environ['REMOTE_ADDR']}:{environ['REMOTE_PORT']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
