"""HTTP apps that send a message of an ASGI extension the server does not offer:
``/trailers`` (``http.response.trailers`` after a start with ``trailers`` true and its
body), ``/push`` (``http.response.push`` before its body). Each records what the send
raised in the file named by ``ASGI_EXTENSION_LOG``."""

import os


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    try:
        if path == "/trailers":
            await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
            await send({"type": "http.response.body", "body": b"abc"})
            await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")], "more_trailers": False})
        else:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.push", "path": "/style.css", "headers": []})
            await send({"type": "http.response.body", "body": b"abc"})
    except Exception as err:
        with open(os.environ["ASGI_EXTENSION_LOG"], "a") as fh:
            fh.write(f"{path} {type(err).__name__}: {err}\n")
        raise
