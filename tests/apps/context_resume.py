"""An events app whose coroutine 'request' listener sets a ContextVar and answers what it
found there first (``None`` unless a value leaked from another request). ``/slow-upload``
reads its body only after a pause, so the socket stops reading and the listener's task
resumes it. Its 'upgrade' listener answers what it finds there too."""

import asyncio
from contextvars import ContextVar

current = ContextVar("current", default=None)


def setup(server):
    async def on_request(req, res):
        found = current.get()
        current.set(req.url)
        if req.url == "/slow-upload":
            await asyncio.sleep(0.3)  # the body piles up: the socket is paused meanwhile
        async for _chunk in req:
            pass
        body = repr(found)
        res.set_header("Content-Length", str(len(body)))
        res.end(body)
    server.on("request", on_request)

    def on_upgrade(req, socket, head):
        body = repr(current.get())
        socket.end(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}")
    server.on("upgrade", on_upgrade)
