"""An app that says which user imported it and which of prefork's interface modules
were loaded before its import (a WSGI ``app``, an ASGI ``asgi`` that echoes one
WebSocket message)."""

import json
import os
import sys

WATCHED = ("prefork.wsgi", "prefork.wsgi.threads", "prefork.asgi", "prefork.asgi.websocket", "encodings.idna")
STATE = json.dumps({"uid": os.geteuid(), "loaded": [name for name in WATCHED if name in sys.modules]}).encode()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(STATE)))])
    return [STATE]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message.get("text", "")})
        await send({"type": "websocket.close"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": STATE})


def setup(server):
    """Events: the answer in Node's ``ucs2`` encoding."""
    server.on("request", lambda req, res: res.end("h\u00e9llo", "ucs2"))
