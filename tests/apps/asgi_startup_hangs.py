"""An ASGI app whose lifespan startup waits for a service that never answers (when
$HANG_FILE is unset, or names a file that exists); its ``finally`` (an async cleanup:
a pool half opened is closed) says when it runs."""

import asyncio
import os
import sys


def hangs():
    path = os.environ.get("HANG_FILE")
    return path is None or os.path.exists(path)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        if hangs():
            print(f"startup awaits in {os.getpid()}", file=sys.stderr, flush=True)
            try:
                await asyncio.sleep(3600)
            finally:
                await asyncio.sleep(0.02)
                print(f"startup cleanup ran in {os.getpid()}", file=sys.stderr, flush=True)
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
