"""A WebSocket app that names its subprotocol in ``websocket.accept``: ``/twice`` as
``subprotocol`` and as a ``Sec-WebSocket-Protocol`` header, ``/header`` as the header
only, ``/field`` as ``subprotocol`` only. It records what the accept raised in the file
named by ``ASGI_SUBPROTOCOL_LOG``, then closes."""

import os


async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()
    path = scope["path"]
    message = {"type": "websocket.accept"}
    if path in ("/twice", "/field"):
        message["subprotocol"] = "chat"
    if path in ("/twice", "/header"):
        message["headers"] = [(b"Sec-WebSocket-Protocol", b"chat")]
    try:
        await send(message)
    except Exception as err:
        with open(os.environ["ASGI_SUBPROTOCOL_LOG"], "a") as fh:
            fh.write(f"{path} {type(err).__name__}: {err}\n")
        raise
    await send({"type": "websocket.close"})
