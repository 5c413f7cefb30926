"""One app per interface, each answering with a Content-Type and an ``X-Multi`` field
set twice (``a`` then ``b``), for the access log's header fields."""


def setup(server):
    def on_request(req, res):
        res.set_header("Content-Type", "text/plain")
        res.set_header("X-Multi", ["a", "b"])
        if req.url == "/unanswered":  # set, never sent: the client closes first
            return
        res.end("events")
    server.on("request", on_request)


def wsgi(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Multi", "a"), ("X-Multi", "b")])
    return [b"wsgi"]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"x-multi", b"a"), (b"x-multi", b"b")]})
    await send({"type": "http.response.body", "body": b"asgi"})
