"""An ASGI app whose lifespan startup waits for a service that never answers; its
``finally`` (an async cleanup: a pool half opened is closed) says when it runs."""

import asyncio
import os
import sys


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        print(f"startup awaits in {os.getpid()}", file=sys.stderr, flush=True)
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.02)
            print(f"startup cleanup ran in {os.getpid()}", file=sys.stderr, flush=True)
        await send({"type": "lifespan.startup.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
