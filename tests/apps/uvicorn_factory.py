"""An ASGI app made by a factory, as uvicorn's ``--factory main:create_app`` serves it."""


def create_app():
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"made by the factory"})
    return app
