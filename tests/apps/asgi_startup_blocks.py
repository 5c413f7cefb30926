"""An ASGI app whose lifespan startup, when $BLOCK_FILE exists, blocks the loop (sync
work inside the async startup: a driver's blocking connect) until $RELEASE_FILE exists
(at most a minute), then completes; its shutdown says when it runs."""

import os
import sys
import time


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        if os.path.exists(os.environ["BLOCK_FILE"]):
            print(f"startup blocks in {os.getpid()}", file=sys.stderr, flush=True)
            until = time.monotonic() + 60
            while not os.path.exists(os.environ["RELEASE_FILE"]) and time.monotonic() < until:
                time.sleep(0.01)
        await send({"type": "lifespan.startup.complete"})
        print(f"startup complete in {os.getpid()}", file=sys.stderr, flush=True)
        await receive()
        print(f"shutdown ran in {os.getpid()}", file=sys.stderr, flush=True)
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
