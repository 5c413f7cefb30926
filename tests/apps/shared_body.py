"""One body cached at import, answered to every client whole in one piece (WSGI: a
one-item list; ASGI: one body message): /big, else a short one."""

BIG = bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB, one object shared by every response


def wsgi(environ, start_response):
    body = BIG if environ["PATH_INFO"] == "/big" else b"pong"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BIG if scope["path"] == "/big" else b"pong"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
