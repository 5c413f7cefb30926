"""An ASGI app that sets a ContextVar per request and answers what it found there first
(``None`` unless a value leaked from another request). ``/slow-upload`` reads its body
only after a pause, so the socket stops reading and the app's ``receive()`` resumes it."""

import asyncio
from contextvars import ContextVar

current = ContextVar("current", default=None)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    found = current.get()
    current.set(scope["path"])
    answer = repr(found).encode()
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "bytes": answer})
        await send({"type": "websocket.close"})
        return
    if scope["path"] == "/slow-upload":
        await asyncio.sleep(0.3)  # the body piles up past the adapter's mark: the socket is paused
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})
