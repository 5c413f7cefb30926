"""Apps whose body messages carry something other than ``bytes``: an int, a ``str``,
None, an ``array`` and a ``memoryview`` of one (items of 4 bytes). On a WebSocket the
body is a denial response's (status 400), on HTTP a streamed response's: chunked, or with
a path ending in ``-cl`` declaring a ``Content-Length`` of the body's bytes (``6`` for an
int). Each records what its
sends raised in the file named by ``ASGI_BODY_TYPES_LOG``."""

import array
import os


def body(path):
    name = path.strip("/").split("-")[0]
    if name == "int":
        return 5
    if name == "str":
        return "h\u00e9llo"
    if name == "none":
        return None
    items = array.array("i", [0x41414141, 0x42424242])
    return items if name == "array" else memoryview(items)


async def app(scope, receive, send):
    if scope["type"] not in ("http", "websocket"):
        return
    path = scope["path"]
    kind = "websocket.http.response" if scope["type"] == "websocket" else "http.response"
    if scope["type"] == "websocket":
        await receive()
    length = len(memoryview(body(path)).cast("B")) if path.startswith(("/array", "/view")) else 6  # (héllo: 6)
    headers = [(b"content-length", str(length).encode())] if path.endswith("-cl") else []
    try:
        await send({"type": kind + ".start", "status": 400, "headers": headers})
        await send({"type": kind + ".body", "body": body(path), "more_body": True})
        await send({"type": kind + ".body", "body": b""})
    except Exception as err:
        with open(os.environ["ASGI_BODY_TYPES_LOG"], "a") as fh:
            fh.write(f"{scope['type']} {path} {type(err).__name__}: {err}\n")
        raise
