"""A large body, the same object every time (events, WSGI, ASGI): /big, and /small."""

BIG = bytes(range(256)) * (32 * 1024 * 1024 // 256)  # 32 MiB, made once at import
SMALL = b"small body\n"


def setup(server):
    def on_request(req, res):
        body = BIG if req.url == "/big" else SMALL
        res.set_header("Content-Length", str(len(body)))
        res.end(body)
    server.on("request", on_request)


def wsgi(environ, start_response):
    body = BIG if environ["PATH_INFO"] == "/big" else SMALL
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BIG if scope["path"] == "/big" else SMALL
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    # (in two messages: a body in one message is joined to its head, a copy of it, by the
    # server's response: outside what the TLS layer answers for)
    await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
