"""The benchmark app, once per interface: prefork events, WSGI (prefork, gunicorn,
granian) and ASGI (uvicorn). Routes: / (13 bytes), /4k, /64k, POST /echo."""

BODIES = {"/": b"Hello, World!", "/4k": b"x" * 4096, "/64k": b"x" * 65536}


def setup(server):
    def on_request(req, res):
        if req.url == "/echo":
            chunks = []
            req.on("data", chunks.append)
            req.on("end", lambda: res.end(b"".join(chunks)))
            return
        res.end(BODIES.get(req.url, BODIES["/"]))
    server.on("request", on_request)


def wsgi(environ, start_response):
    if environ["PATH_INFO"] == "/echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    else:
        body = BODIES.get(environ["PATH_INFO"], BODIES["/"])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    if scope["path"] == "/echo":
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
    else:
        body = BODIES.get(scope["path"], BODIES["/"])
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
