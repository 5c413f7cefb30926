"""A WebSocket app that accepts, then closes with a reason UTF-8 cannot encode (a lone
surrogate); it records what that close raised in the file named by
``ASGI_CLOSE_REASON_LOG``, then returns (``/return``) or raises it on (``/raise``)."""

import os


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    try:
        await send({"type": "websocket.close", "code": 4000, "reason": "bad \ud800 reason"})
    except Exception as err:
        with open(os.environ["ASGI_CLOSE_REASON_LOG"], "a") as fh:
            fh.write(f"{scope['path']} {type(err).__name__}\n")
        if scope["path"] == "/raise":
            raise
